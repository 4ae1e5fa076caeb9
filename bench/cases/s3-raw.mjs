// The limit on S3: a raw AWS SDK v3 streaming put (lib-storage Upload, same part size and
// concurrency as our backend's defaults) or get of a file, in a fresh process.
//   node s3-raw.mjs <put|get> <bucket> <key> <file>
import { createReadStream, createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";

const [op, Bucket, Key, file] = process.argv.slice(2);
const client = new S3Client({
  endpoint: process.env.S3_ENDPOINT,
  region: process.env.S3_REGION ?? "us-east-1",
  forcePathStyle: true,
  credentials: {
    accessKeyId: process.env.S3_ACCESS_KEY,
    secretAccessKey: process.env.S3_SECRET_KEY,
  },
  requestChecksumCalculation: "WHEN_REQUIRED",
  responseChecksumValidation: "WHEN_REQUIRED",
});
const t0 = performance.now();
if (op === "put") {
  await new Upload({
    client,
    params: { Bucket, Key, Body: createReadStream(file, { highWaterMark: 1 << 20 }) },
    partSize: 8 << 20,
    queueSize: 3,
  }).done();
} else {
  const r = await client.send(new GetObjectCommand({ Bucket, Key }));
  await pipeline(r.Body, createWriteStream(file));
}
console.log(JSON.stringify({ op, seconds: (performance.now() - t0) / 1000 }));
client.destroy();
