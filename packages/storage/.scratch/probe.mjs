import { S3Client, CreateBucketCommand, PutObjectCommand, CopyObjectCommand, GetObjectCommand, HeadObjectCommand, CreateMultipartUploadCommand, UploadPartCommand, CompleteMultipartUploadCommand } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { randomBytes } from "node:crypto";
const s3 = new S3Client({ endpoint: "http://127.0.0.1:7480", region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "rgwtestaccess", secretAccessKey: "rgwtestsecret" }, requestChecksumCalculation: "WHEN_REQUIRED", responseChecksumValidation: "WHEN_REQUIRED" });
const Bucket = `probe2-${Date.now()}`;
await s3.send(new CreateBucketCommand({ Bucket }));
const st = (e) => `${e.name} ${e.$metadata?.httpStatusCode}`;
const text = async (k) => (await (await s3.send(new GetObjectCommand({ Bucket, Key: k }))).Body.transformToString()).slice(0, 20);
// 1. Copy with IfNoneMatch to existing dest
await s3.send(new PutObjectCommand({ Bucket, Key: "src", Body: "source" }));
await s3.send(new PutObjectCommand({ Bucket, Key: "dst", Body: "existing" }));
try { const r = await s3.send(new CopyObjectCommand({ Bucket, Key: "dst", CopySource: `${Bucket}/src`, IfNoneMatch: "*" })); console.log("copy IfNoneMatch existing: OK (ignored?)", r.CopyObjectResult?.ETag, await text("dst")); } catch (e) { console.log("copy IfNoneMatch existing:", st(e), await text("dst")); }
// 2. Copy IfNoneMatch absent
try { const r = await s3.send(new CopyObjectCommand({ Bucket, Key: "dst2", CopySource: `${Bucket}/src`, IfNoneMatch: "*" })); console.log("copy IfNoneMatch absent: OK", r.CopyObjectResult?.ETag); } catch (e) { console.log("copy IfNoneMatch absent:", st(e)); }
// 3. Copy IfMatch wrong
try { const r = await s3.send(new CopyObjectCommand({ Bucket, Key: "dst", CopySource: `${Bucket}/src`, IfMatch: "abc" })); console.log("copy IfMatch wrong: OK (ignored)", await text("dst")); } catch (e) { console.log("copy IfMatch wrong:", st(e)); }
// 4. Complete multipart IfNoneMatch on existing
const big = randomBytes(6 * 1024 * 1024);
const c = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: "dst" }));
const p1 = await s3.send(new UploadPartCommand({ Bucket, Key: "dst", UploadId: c.UploadId, PartNumber: 1, Body: big }));
try { const r = await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: "dst", UploadId: c.UploadId, IfNoneMatch: "*", MultipartUpload: { Parts: [{ PartNumber: 1, ETag: p1.ETag }] } })); console.log("complete IfNoneMatch existing: OK", JSON.stringify(r.ETag), (await s3.send(new HeadObjectCommand({ Bucket, Key: "dst" }))).ContentLength); } catch (e) { console.log("complete IfNoneMatch existing:", st(e)); }
// 5. concurrent copies of a multipart source, IfNoneMatch
await new Upload({ client: s3, params: { Bucket, Key: "bigsrc", Body: randomBytes(20 * 1024 * 1024) }, partSize: 8 * 1024 * 1024 }).done();
const h = await s3.send(new HeadObjectCommand({ Bucket, Key: "bigsrc" })); console.log("bigsrc etag", h.ETag);
let t0 = performance.now();
const res = await Promise.allSettled(Array.from({ length: 16 }, () => s3.send(new CopyObjectCommand({ Bucket, Key: "race", CopySource: `${Bucket}/bigsrc`, IfNoneMatch: "*" }))));
console.log("16 concurrent copy IfNoneMatch:", res.map((r) => r.status === "fulfilled" ? "ok" : st(r.reason)).join(","), Math.round(performance.now() - t0), "ms");
const h2 = await s3.send(new HeadObjectCommand({ Bucket, Key: "race" })); console.log("race etag", h2.ETag, h2.ContentLength);
// 6. concurrent puts IfMatch unquoted
const base = await s3.send(new PutObjectCommand({ Bucket, Key: "cas", Body: "v0" }));
const res2 = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => s3.send(new PutObjectCommand({ Bucket, Key: "cas", Body: `v${i + 1}`, IfMatch: base.ETag.replace(/"/g, "") }))));
console.log("8 concurrent CAS:", res2.map((r) => r.status === "fulfilled" ? "ok" : st(r.reason) + ":" + r.reason.Code).join(","));
// 7. Put IfMatch on missing key
try { await s3.send(new PutObjectCommand({ Bucket, Key: "nokey", Body: "x", IfMatch: "abc" })); console.log("IfMatch missing: OK?!"); } catch (e) { console.log("IfMatch missing:", st(e)); }
// 8. Get missing / head missing
try { await s3.send(new GetObjectCommand({ Bucket, Key: "nokey" })); } catch (e) { console.log("get missing:", st(e), e.Code); }
// 9. wrong credentials
const bad = new S3Client({ endpoint: "http://127.0.0.1:7480", region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "rgwtestaccess", secretAccessKey: "wrong" } });
try { await bad.send(new HeadObjectCommand({ Bucket, Key: "src" })); } catch (e) { console.log("bad creds head:", st(e), e.message); }
try { await bad.send(new GetObjectCommand({ Bucket, Key: "src" })); } catch (e) { console.log("bad creds get:", st(e), e.Code, e.message); }
// 10. no such bucket
try { await s3.send(new GetObjectCommand({ Bucket: "nobucket-xyz", Key: "src" })); } catch (e) { console.log("no bucket get:", st(e), e.Code); }
try { await s3.send(new HeadObjectCommand({ Bucket: "nobucket-xyz", Key: "src" })); } catch (e) { console.log("no bucket head:", st(e), e.Code); }
// 11. Create existing bucket
try { await s3.send(new CreateBucketCommand({ Bucket })); console.log("create existing: ok"); } catch (e) { console.log("create existing:", st(e)); }
// 12. Range beyond
try { const r = await s3.send(new GetObjectCommand({ Bucket, Key: "src", Range: "bytes=100-" })); console.log("range beyond ok", r.ContentLength); } catch (e) { console.log("range beyond:", st(e), e.Code); }
try { const r = await s3.send(new GetObjectCommand({ Bucket, Key: "src", Range: "bytes=2-" })); console.log("range open", r.ContentLength, r.ContentRange, await r.Body.transformToString()); } catch (e) { console.log("range open:", st(e), e.Code); }
