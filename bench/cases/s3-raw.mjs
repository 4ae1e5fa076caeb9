// The limit on S3: a raw AWS SDK v3 streaming put (lib-storage Upload, with the same part size
// and concurrency as the store's S3 backend defaults: 8 MiB parts, 3 in flight, 1 MiB reads) or
// get of a file, in a fresh process. Times the transfer alone (the client is made before).
//   node s3-raw.mjs <put|get> <bucket> <key> <file>
// Prints one JSON line: { op, seconds, bytes, partSize, queueSize }.
import { createReadStream, createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";

export const PART_SIZE = 8 << 20;
export const QUEUE_SIZE = 3;

const [op, Bucket, Key, file] = process.argv.slice(2);
if (op === "put" || op === "get") {
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
  let bytes = 0;
  // The same memory sampling as store-op.mjs (every 50 ms), to compare what the peak is made of.
  const MIB = 1024 * 1024;
  const memory = { peakRssMiB: 0, atPeak: undefined, maxArrayBuffersMiB: 0 };
  const sampleMemory = () => {
    const m = process.memoryUsage();
    memory.maxArrayBuffersMiB = Math.max(memory.maxArrayBuffersMiB, m.arrayBuffers / MIB);
    if (m.rss / MIB > memory.peakRssMiB) {
      memory.peakRssMiB = m.rss / MIB;
      memory.atPeak = {
        heapUsedMiB: m.heapUsed / MIB,
        externalMiB: m.external / MIB,
        arrayBuffersMiB: m.arrayBuffers / MIB,
      };
    }
  };
  const sampler = setInterval(sampleMemory, 50);
  sampleMemory();
  const t0 = performance.now();
  if (op === "put") {
    const body = createReadStream(file, { highWaterMark: 1 << 20 });
    await new Upload({
      client,
      params: { Bucket, Key, Body: body },
      partSize: PART_SIZE,
      queueSize: QUEUE_SIZE,
    }).done();
    bytes = body.bytesRead;
  } else {
    const r = await client.send(new GetObjectCommand({ Bucket, Key }));
    const out = createWriteStream(file);
    await pipeline(r.Body, out);
    bytes = out.bytesWritten;
  }
  const seconds = (performance.now() - t0) / 1000;
  sampleMemory();
  clearInterval(sampler);
  console.log(
    JSON.stringify({ op, seconds, bytes, partSize: PART_SIZE, queueSize: QUEUE_SIZE, memory }),
  );
  client.destroy();
}
