import { S3Client, ListObjectsV2Command, ListBucketsCommand, ListMultipartUploadsCommand } from "@aws-sdk/client-s3";
const s3 = new S3Client({ endpoint: "http://127.0.0.1:7480", region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: "rgwtestaccess", secretAccessKey: "rgwtestsecret" } });
const b = await s3.send(new ListBucketsCommand({}));
console.log(b.Buckets.map((x) => x.Name));
const r = await s3.send(new ListObjectsV2Command({ Bucket: "trainable-test-storage" }));
console.log(r.KeyCount, (r.Contents ?? []).slice(0, 10).map((c) => c.Key));
const m = await s3.send(new ListMultipartUploadsCommand({ Bucket: "trainable-test-storage" }));
console.log("multipart in progress:", (m.Uploads ?? []).map((u) => u.Key));
