// A child process racing other children on one key of a file backend.
// Usage: node file-backend-worker.mjs <module-url> <root> <key> <create|cas> [etag]
// Prints "ready", waits for a line on stdin (the starting gun), puts, prints one JSON line.
const [moduleUrl, root, key, mode, etag] = process.argv.slice(2);
const { createFileBackend } = await import(moduleUrl);
const backend = createFileBackend({ root });
process.stdout.write("ready\n");
await new Promise((resolve) => process.stdin.once("data", resolve));
const body = Buffer.from(`pid-${process.pid}`);
try {
  const info = await backend.put(
    key,
    body,
    mode === "create" ? { ifNoneMatch: "*" } : { ifMatch: etag },
  );
  process.stdout.write(`${JSON.stringify({ ok: true, etag: info.etag, body: body.toString() })}\n`);
} catch (error) {
  process.stdout.write(
    `${JSON.stringify({ ok: false, name: error.name, message: error.message })}\n`,
  );
}
process.exit(0);
