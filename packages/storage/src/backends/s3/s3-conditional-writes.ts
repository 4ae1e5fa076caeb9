/**
 * Which conditional writes the server enforces atomically. The defaults fit AWS S3 (since
 * 2024) and Ceph radosgw ≥ 16 for single-request uploads; MinIO too. Turn a flag off for a
 * server that ignores or rejects the header (e.g. OpenStack Swift answers 501): the matching
 * capability is then declared `false` and the checkpoint store picks another strategy.
 */
export interface S3ConditionalWrites {
  /** `If-None-Match: *` on PutObject fails with 412 when the key exists (default `true`). */
  ifNoneMatch?: boolean;
  /** `If-Match: <etag>` on PutObject fails with 412 when the ETag differs (default `true`). */
  ifMatch?: boolean;
  /**
   * The same headers are also enforced on CompleteMultipartUpload (default `false`). AWS S3
   * does; radosgw 16 silently ignores them. When `false`, a create-only or compare-and-swap
   * put of a body larger than `partSize` is refused (a HEAD before the upload would not be
   * atomic). The checkpoint store never needs one: archives go to fresh unique keys.
   */
  multipart?: boolean;
}
