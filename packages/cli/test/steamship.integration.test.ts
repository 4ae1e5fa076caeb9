import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import {
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { pathToFileURL } from "node:url";
import { createBackend, createCheckpointStore, type ExtractLimits } from "@trainable/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getS3TestConfig } from "../../../tools/s3-server/s3-test-env.js";
import { importSteamship } from "../src/steamship/import-steamship.js";
import { python, ZIP_FOLDER } from "./__fixtures__/python.js";
import { bin, type CliResult, spawnCli } from "./__fixtures__/spawn-cli.js";

let cwd: string;
const cli = (args: string[], env?: NodeJS.ProcessEnv) => spawnCli(cwd, args, { env });
const json = <T>(r: CliResult): T => {
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
};
const lastLine = (r: CliResult) => r.stderr.trim().split("\n").at(-1) ?? "";

interface Ref {
  handle: string;
  digest: string;
  archivePath: string;
}

/** Every file and folder under `dir`: relative path → sha256 of the bytes, or "dir". */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string) => {
    for (const entry of await readdir(join(dir, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        out[path] = "dir";
        await walk(path);
      } else {
        out[path] = createHash("sha256")
          .update(await readFile(join(dir, path)))
          .digest("hex");
      }
    }
  };
  await walk("");
  return out;
}

/** A model folder as a trained model would leave it: nested, binary, empty, non-ASCII. */
async function makeModel(dir: string, seed: string): Promise<void> {
  const bytes = (n: number) => {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i += 32) {
      createHash("sha256").update(`${seed}:${i}`).digest().copy(out, i);
    }
    return out;
  };
  await mkdir(join(dir, "weights"), { recursive: true });
  await mkdir(join(dir, "empty"), { recursive: true });
  await mkdir(join(dir, "vocab", "a", "b"), { recursive: true });
  await writeFile(join(dir, "config.json"), JSON.stringify({ seed, layers: 2 }));
  await writeFile(join(dir, "weights", "layer1.bin"), bytes(300_000));
  await writeFile(join(dir, "weights", "zeros.bin"), Buffer.alloc(1 << 20));
  await writeFile(join(dir, "vocab", "wörter-ü.txt"), `hallo ${seed}\n`);
  await writeFile(join(dir, "vocab", "a", "b", "deep.txt"), seed);
  await writeFile(join(dir, "zero-bytes"), "");
}

/**
 * Saves each model folder `{parent}/{handle}` as the original did (`save_remote` →
 * `upload_model_bundle`): `zip_folder` → `{handle}.zip`, uploaded as `{handle}.zip` and, for
 * the save that set the default, the same file again as `default.zip`.
 */
function steamshipLayout(parent: string, bucket: string, handles: string[], defaultOf: string) {
  python(
    `${ZIP_FOLDER}
parent, bucket, default_of = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
bucket.mkdir(parents=True, exist_ok=True)
for handle in sys.argv[4:]:
    archive = zip_folder(parent / handle, into_file=parent / f"{handle}.zip")
    shutil.copyfile(archive, bucket / f"{handle}.zip")
    if handle == default_of:
        shutil.copyfile(archive, bucket / "default.zip")
`,
    [parent, bucket, defaultOf, ...handles],
  );
}

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error("build the CLI first (turbo builds it before tests)");
  python("import sys; assert sys.version_info >= (3, 8)");
  cwd = await mkdtemp(join(tmpdir(), "trainable-steamship-"));
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

describe("checkpoints import/export --from/--to steamship", () => {
  let models: string;
  let bucket: string;

  beforeAll(async () => {
    models = join(cwd, "models");
    bucket = join(cwd, "bucket", "instance-1");
    await makeModel(join(models, "v1"), "v1");
    await makeModel(join(models, "epoch_3"), "epoch_3");
    // v1 first, then epoch_3, which set the default last.
    steamshipLayout(models, bucket, ["v1", "epoch_3"], "epoch_3");
  });

  it("prints help for import, export, push and pull", async () => {
    for (const sub of ["import", "export", "push", "pull"]) {
      const r = await cli(["checkpoints", sub, "--help"]);
      expect(r.code, sub).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: trainable checkpoints ${sub} `, "m"));
    }
  });

  it("imports {handle}.zip files: default shares the blob of the handle whose zip it copies", async () => {
    expect((await readdir(bucket)).sort()).toEqual(["default.zip", "epoch_3.zip", "v1.zip"]);
    const result = json<{ imported: { handle: string; sameAs?: string }[] }>(
      await cli([
        "--json",
        "checkpoints",
        "import",
        "--from",
        "steamship",
        bucket,
        "--instance",
        "m",
      ]),
    );
    expect(result.imported.map((i) => [i.handle, i.sameAs])).toEqual([
      ["epoch_3", undefined],
      ["v1", undefined],
      ["default", "epoch_3"],
    ]);
    const refs = json<Ref[]>(await cli(["--json", "checkpoints", "list", "--instance", "m"]));
    expect(refs.map((r) => r.handle)).toEqual(["default", "epoch_3", "v1"]);
    const [def, epoch3, v1] = refs as [Ref, Ref, Ref];
    expect(def.digest).toBe(epoch3.digest);
    expect(def.archivePath).toBe(epoch3.archivePath);
    expect(v1.digest).not.toBe(epoch3.digest);
    // Two checkpoints, two archives: default.zip became no blob of its own.
    const blobs = await readdir(join(cwd, ".trainable", "store", "local", "m", "blobs"));
    expect(blobs.filter((b) => b.endsWith(".tar"))).toHaveLength(2);

    // Each handle holds exactly its model folder, empty folder and all.
    for (const handle of ["v1", "epoch_3", "default"]) {
      const out = join(cwd, "pulled-import", handle);
      const r = await cli(["checkpoints", "pull", "--instance", "m", "--handle", handle, out]);
      expect(r.code, r.stderr).toBe(0);
      const source = join(models, handle === "default" ? "epoch_3" : handle);
      expect(await snapshot(out)).toEqual(await snapshot(source));
    }
  });

  it("exports zips that Python's shutil.unpack_archive opens to identical files", async () => {
    const out = join(cwd, "exported");
    const result = json<{ zips: { file: string; copyOf?: string }[] }>(
      await cli(["--json", "checkpoints", "export", "--to", "steamship", out, "--instance", "m"]),
    );
    expect(result.zips.map((z) => [z.file, z.copyOf])).toEqual([
      ["epoch_3.zip", undefined],
      ["v1.zip", undefined],
      ["default.zip", "epoch_3.zip"],
    ]);
    expect((await readdir(out)).sort()).toEqual(["default.zip", "epoch_3.zip", "v1.zip"]);
    expect(await readFile(join(out, "default.zip"))).toEqual(
      await readFile(join(out, "epoch_3.zip")),
    );
    // The original's loader: download_model_bundle → unzip_folder → shutil.unpack_archive.
    const listing = python(
      `
import shutil, sys, zipfile, json
from pathlib import Path
out, into = Path(sys.argv[1]), Path(sys.argv[2])
names = {}
for handle in ["v1", "epoch_3", "default"]:
    shutil.unpack_archive(out / f"{handle}.zip", into / handle, "zip")
    names[handle] = zipfile.ZipFile(out / f"{handle}.zip").namelist()
for handle in ["v1", "epoch_3"]:
    shutil.make_archive(str(into / f"py-{handle}"), "zip", sys.argv[3] + "/" + handle)
    names["py-" + handle] = zipfile.ZipFile(into / f"py-{handle}.zip").namelist()
print(json.dumps(names))
`,
      [out, join(cwd, "unpacked"), models],
    );
    for (const handle of ["v1", "epoch_3", "default"]) {
      const source = join(models, handle === "default" ? "epoch_3" : handle);
      expect(await snapshot(join(cwd, "unpacked", handle))).toEqual(await snapshot(source));
    }
    // The same entries as make_archive writes (directory entries included); Python lists a
    // folder's files in directory order, the export sorts them.
    const names = JSON.parse(listing) as Record<string, string[]>;
    for (const handle of ["v1", "epoch_3"]) {
      expect([...(names[handle] ?? [])].sort()).toEqual([...(names[`py-${handle}`] ?? [])].sort());
      expect(names[handle]).toContain("empty/");
    }
    expect(names.epoch_3?.slice(0, 4)).toEqual(["empty/", "vocab/", "weights/", "config.json"]);

    // Existing zips are not replaced without --force.
    let r = await cli(["checkpoints", "export", "--to", "steamship", out, "--instance", "m"]);
    expect(r.code).toBe(2);
    expect(lastLine(r)).toMatch(/<dir>: .*epoch_3\.zip exists \(add --force/);
    r = await cli([
      "checkpoints",
      "export",
      "--to",
      "steamship",
      out,
      "--instance",
      "m",
      "--force",
    ]);
    expect(r.code, r.stderr).toBe(0);
    r = await cli([
      "--json",
      "checkpoints",
      "export",
      "--to",
      "steamship",
      join(cwd, "only-v1"),
      "--instance",
      "m",
      "--handle",
      "v1",
    ]);
    // Only what was asked: default.zip too only when `default` is listed.
    expect(JSON.parse(r.stdout).zips.map((z: { file: string }) => z.file)).toEqual(["v1.zip"]);
    r = await cli([
      "--json",
      "checkpoints",
      "export",
      "--to",
      "steamship",
      join(cwd, "v1-and-default"),
      "--instance",
      "m",
      "--handle",
      "v1",
      "--handle",
      "default",
    ]);
    expect(JSON.parse(r.stdout).zips.map((z: { file: string }) => z.file)).toEqual([
      "v1.zip",
      "default.zip",
    ]);
    // A dangling link at a zip's name is something already there: refused without --force.
    const linked = join(cwd, "linked");
    await mkdir(linked);
    await symlink(join(cwd, "nowhere.zip"), join(linked, "v1.zip"));
    r = await cli([
      "checkpoints",
      "export",
      "--to",
      "steamship",
      linked,
      "--instance",
      "m",
      "--handle",
      "v1",
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/v1\.zip/);
    expect(existsSync(join(cwd, "nowhere.zip"))).toBe(false);
  });

  it("imports from s3://bucket/prefix on the real S3 server, into an S3 store", async () => {
    const s3 = getS3TestConfig();
    const query = `endpoint=${encodeURIComponent(s3.endpoint)}&region=${s3.region}&forcePathStyle=true`;
    const source = `s3://${s3.bucket}/${s3.prefix}plugin-data/instance-1?${query}`;
    const credentials = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
    const backend = await createBackend(source, { s3: { credentials } });
    for (const name of await readdir(bucket)) {
      const { size } = await stat(join(bucket, name));
      await backend.put(name, createReadStream(join(bucket, name)), { contentLength: size });
    }
    await backend.put("notes/readme.txt", Buffer.from("not a checkpoint"));
    await backend.close?.();
    const env = {
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_REGION: s3.region,
    };
    const remote = ["--remote", `s3://${s3.bucket}/${s3.prefix}store?${query}`];
    const result = json<{ imported: { handle: string; sameAs?: string }[]; skipped: string[] }>(
      await cli(
        [
          ...remote,
          "--json",
          "checkpoints",
          "import",
          "--from",
          "steamship",
          source,
          "--instance",
          "s",
        ],
        env,
      ),
    );
    expect(result.imported.map((i) => [i.handle, i.sameAs])).toEqual([
      ["epoch_3", undefined],
      ["v1", undefined],
      ["default", "epoch_3"],
    ]);
    expect(result.skipped).toEqual(["notes/readme.txt"]);
    const refs = json<Ref[]>(
      await cli([...remote, "--json", "checkpoints", "list", "--instance", "s"], env),
    );
    const byHandle = Object.fromEntries(refs.map((r) => [r.handle, r]));
    expect(byHandle.default?.archivePath).toBe(byHandle.epoch_3?.archivePath);
    const out = join(cwd, "pulled-s3");
    const r = await cli(
      [...remote, "checkpoints", "pull", "--instance", "s", "--handle", "v1", out],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(await snapshot(out)).toEqual(await snapshot(join(models, "v1")));
  });

  it("a default.zip that matches no handle's zip is imported as its own checkpoint", async () => {
    const layout = join(cwd, "own-default");
    await mkdir(layout);
    await copyFile(join(bucket, "v1.zip"), join(layout, "v1.zip"));
    await copyFile(join(bucket, "epoch_3.zip"), join(layout, "default.zip"));
    const result = json<{ imported: { handle: string; sameAs?: string }[] }>(
      await cli([
        "--json",
        "checkpoints",
        "import",
        "--from",
        "steamship",
        layout,
        "--instance",
        "d",
      ]),
    );
    expect(result.imported.map((i) => [i.handle, i.sameAs])).toEqual([
      ["v1", undefined],
      ["default", undefined],
    ]);
    const refs = json<Ref[]>(await cli(["--json", "checkpoints", "list", "--instance", "d"]));
    expect(refs[0]?.archivePath).not.toBe(refs[1]?.archivePath);
  });

  it("names bad usage: the layout, the instance, the source", async () => {
    let r = await cli(["checkpoints", "import", "--from", "tfhub", bucket, "--instance", "m"]);
    expect(r.code).toBe(2);
    expect(lastLine(r)).toMatch(/\[VALIDATION\].*--from: the only layout supported is "steamship"/);
    r = await cli(["checkpoints", "import", "--from", "steamship", bucket, "--instance", "../x"]);
    expect(r.code).toBe(2);
    expect(lastLine(r)).toMatch(/--instance: .*got "\.\.\/x"/);
    r = await cli([
      "checkpoints",
      "import",
      "--from",
      "steamship",
      join(cwd, "nope"),
      "--instance",
      "m",
    ]);
    expect(r.code).toBe(2);
    expect(lastLine(r)).toMatch(/<source>: no such folder/);
    const odd = join(cwd, "odd-names");
    await mkdir(odd);
    await copyFile(join(bucket, "v1.zip"), join(odd, "my model.zip"));
    r = await cli(["checkpoints", "import", "--from", "steamship", odd, "--instance", "m"]);
    expect(r.code).toBe(2);
    expect(lastLine(r)).toMatch(/"my model\.zip" does not name a checkpoint handle/);
    r = await cli(["checkpoints", "export", "--to", "zip", join(cwd, "x"), "--instance", "m"]);
    expect(r.code).toBe(2);
    expect(lastLine(r)).toMatch(/--to: the only layout/);
  });

  it("refuses to export a checkpoint the original's unpack_archive would load incomplete", async () => {
    const folder = join(cwd, "dotdot");
    await mkdir(folder);
    await writeFile(join(folder, "weights..bin"), "x");
    let r = await cli(["checkpoints", "push", folder, "--instance", "dd", "--handle", "v1"]);
    expect(r.code, r.stderr).toBe(0);
    r = await cli([
      "checkpoints",
      "export",
      "--to",
      "steamship",
      join(cwd, "dd-out"),
      "--instance",
      "dd",
    ]);
    expect(r.code).toBe(1);
    expect(lastLine(r)).toMatch(/\[NOT_SUPPORTED\].*skips "weights\.\.bin"/);
    expect(await readdir(join(cwd, "dd-out"))).toEqual([]);
  });
});

/** Python code writing hostile zips: `kind` and the output path as arguments. */
const HOSTILE = `${ZIP_FOLDER}
kind, out = sys.argv[1], sys.argv[2]
warnings.simplefilter("ignore")

def plain(*entries):
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = mode << 16
            z.writestr(info, data)

def patch(fn):
    data = bytearray(open(out, "rb").read())
    fn(data)
    open(out, "wb").write(bytes(data))

F = 0o100644
if kind == "traversal": plain(("ok.txt", "fine", F), ("../evil.txt", "pwned", F))
elif kind == "absolute": plain(("/tmp/evil.txt", "pwned", F))
elif kind == "drive": plain(("C:/evil.txt", "pwned", F))
elif kind == "backslash": plain(("sub\\\\evil.txt", "pwned", F))
elif kind == "symlink": plain(("ok.txt", "fine", F), ("link", "/etc/passwd", 0o120777))
elif kind == "fifo": plain(("pipe", "", 0o010644))
elif kind == "duplicate": plain(("a.txt", "one", F), ("a.txt", "two", F))
elif kind == "nfc": plain(("caf\\u00e9.txt", "one", F), ("cafe\\u0301.txt", "two", F))
elif kind == "dirfile": plain(("x", "one", F), ("x/y", "two", F))
elif kind == "size-lie":
    plain(("bomb.bin", b"\\0" * (1 << 20), F))
    def lie(d):
        struct.pack_into("<I", d, 22, 10)
        struct.pack_into("<I", d, d.find(b"PK\\x01\\x02") + 24, 10)
    patch(lie)
elif kind == "crc":
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        z.writestr("data.bin", b"model weights")
    def flip(d): d[30 + len("data.bin")] ^= 0xFF
    patch(flip)
elif kind == "count":
    # A zip64 end record declaring 2,000,000 entries (the limit is 1,000,000).
    plain(("a.txt", "one", F))
    def count(d):
        eocd = d.rfind(b"PK\\x05\\x06")
        cd_size, cd_offset = struct.unpack_from("<II", d, eocd + 12)
        z64 = struct.pack("<IQHHIIQQQQ", 0x06064b50, 44, 45, 45, 0, 0, 2000000, 2000000, cd_size, cd_offset)
        loc = struct.pack("<IIQI", 0x07064b50, 0, eocd, 1)
        end = bytearray(d[eocd:])
        struct.pack_into("<HH", end, 8, 0xFFFF, 0xFFFF)
        d[eocd:] = z64 + loc + end
    patch(count)
elif kind == "overlap":
    # One deflated MiB of zeros, and 200 central-directory entries that all point at it.
    plain(("b0", b"\\0" * (1 << 20), F))
    def overlap(d):
        eocd = d.rfind(b"PK\\x05\\x06")
        cd_size, cd_offset = struct.unpack_from("<II", d, eocd + 12)
        record = bytes(d[cd_offset:cd_offset + cd_size])
        entries = []
        for i in range(200):
            name = f"b{i}".encode()
            r = bytearray(record[:46])
            struct.pack_into("<H", r, 28, len(name))
            struct.pack_into("<HH", r, 30, 0, 0)
            entries.append(bytes(r) + name)
        cd = b"".join(entries)
        end = bytearray(d[eocd:])
        struct.pack_into("<HHII", end, 8, 200, 200, len(cd), cd_offset)
        d[cd_offset:] = cd + end
    patch(overlap)
elif kind == "control":
    # What zipfile writes for an ASCII name: no UTF-8 flag (read as CP437, where a tab stays a tab).
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        z.writestr("model\\tv1.bin", b"weights")
elif kind == "long-segment": plain(("a" * 300, "x", F))
elif kind == "local-overlap":
    import zlib
    # Entry a's data (stored) holds entry b's whole local header and data: a's local name is
    # far longer than its central name, so its data starts past where the central record says.
    def local(name, data, method, comp):
        return struct.pack("<IHHHHHIIIHH", 0x04034b50, 20, 0, method, 0, 0x21, zlib.crc32(data), len(comp), len(data), len(name), 0) + name + comp
    def central(name, data, offset, method, comp):
        return struct.pack("<IHHHHHHIIIHHHHHII", 0x02014b50, 0x031e, 20, 0, method, 0, 0x21, zlib.crc32(data), len(comp), len(data), len(name), 0, 0, 0, 0, F << 16, offset) + name
    b_data = b"\\0" * (1 << 20)
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    b_comp = packer.compress(b_data) + packer.flush()
    b_header = local(b"b.bin", b_data, 8, b_comp)
    a_name = b"a" * (len(b_header) + 10)
    a_data = b"P" * 10 + b_header
    a = local(a_name, a_data, 0, a_data)
    b_offset = 30 + len(a_name) + 10
    cd = central(b"a", a_data, 0, 0, a_data) + central(b"b.bin", b_data, b_offset, 8, b_comp)
    end = struct.pack("<IHHHHIIH", 0x06054b50, 0, 0, 2, 2, len(cd), len(a), 0)
    open(out, "wb").write(a + cd + end)
else: raise SystemExit("unknown kind " + kind)
`;

describe("hostile zips are refused, naming the zip and the entry, leaving nothing behind", () => {
  const cases: [kind: string, message: RegExp][] = [
    ["traversal", /v1\.zip: entry "\.\.\/evil\.txt" path contains a "\.\." segment/],
    ["absolute", /v1\.zip: entry "\/tmp\/evil\.txt" path is absolute/],
    ["drive", /v1\.zip: entry "C:\/evil\.txt" path contains a drive letter/],
    ["backslash", /v1\.zip: entry "sub\\\\evil\.txt" path contains a backslash/],
    ["symlink", /v1\.zip: entry "link" is a symbolic link/],
    ["fifo", /v1\.zip: entry "pipe" is not a regular file or directory \(mode 0o10644\)/],
    ["duplicate", /v1\.zip: entry "a\.txt" duplicates entry "a\.txt"/],
    ["nfc", /v1\.zip: entry "cafe\u0301\.txt" duplicates entry "caf\u00e9\.txt"/],
    ["dirfile", /v1\.zip: entry "x\/y" needs "x" as a folder, but that entry is a file/],
    [
      "size-lie",
      /v1\.zip: entry "bomb\.bin" cannot be read \(too many bytes in the stream\. expected 10/,
    ],
    ["crc", /v1\.zip: entry "data\.bin" fails its CRC-32 check/],
    ["count", /v1\.zip: it declares 2000000 entries, more than the limit of 1000000/],
    ["overlap", /v1\.zip: entry "b1" overlaps the data of entry "b0"/],
    ["control", /v1\.zip: entry "model.v1\.bin" has a control character in its name/],
    ["long-segment", /v1\.zip: entry "a{300}" has a path segment longer than 255 bytes/],
    ["local-overlap", /v1\.zip: entry "b\.bin" overlaps the data of entry "a"/],
  ];

  it.each(cases)("%s", async (kind, message) => {
    const dir = join(cwd, "hostile", kind);
    const tmp = join(cwd, "hostile-tmp", kind);
    await mkdir(dir, { recursive: true });
    await mkdir(tmp, { recursive: true });
    python(HOSTILE, [kind, join(dir, "v1.zip")]);
    const instance = `h-${kind}`;
    const r = await cli(
      ["checkpoints", "import", "--from", "steamship", dir, "--instance", instance],
      {
        TMPDIR: tmp,
      },
    );
    expect(r.code, r.stderr).toBe(1);
    expect(lastLine(r)).toMatch(/^trainable: error \[INTEGRITY\]: Refused /);
    expect(lastLine(r)).toMatch(message);
    // Nothing in the store, nothing extracted anywhere, no temporary folder left.
    const list = json<Ref[]>(await cli(["--json", "checkpoints", "list", "--instance", instance]));
    expect(list).toEqual([]);
    expect(existsSync(join(cwd, ".trainable", "store", "local", instance))).toBe(false);
    expect(await readdir(tmp)).toEqual([]);
    expect(await readdir(dir)).toEqual(["v1.zip"]);
    const everywhere = await readdir(cwd, { recursive: true });
    const planted = new Set([
      "evil.txt",
      "link",
      "pipe",
      "bomb.bin",
      "data.bin",
      "b0",
      "b1",
      "b.bin",
    ]);
    expect(everywhere.filter((p) => planted.has(basename(p)))).toEqual([]);
  });

  it("a refusal after other zips were imported puts every handle back", async () => {
    const dir = join(cwd, "hostile", "after-good");
    await mkdir(dir, { recursive: true });
    const models = join(cwd, "after-good-models");
    await makeModel(join(models, "a"), "a");
    await makeModel(join(models, "b"), "b");
    steamshipLayout(models, dir, ["a", "b"], "b");
    python(HOSTILE, ["traversal", join(dir, "v1.zip")]);
    // `a` existed before the import with other content; `b` and `default` did not.
    const before = join(cwd, "after-good-before");
    await mkdir(before);
    await writeFile(join(before, "old.txt"), "old");
    let r = await cli([
      "checkpoints",
      "push",
      before,
      "--instance",
      "ag",
      "--handle",
      "a",
      "--no-default",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const old = json<Ref[]>(await cli(["--json", "checkpoints", "list", "--instance", "ag"]));

    r = await cli(["checkpoints", "import", "--from", "steamship", dir, "--instance", "ag"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/a\.zip → a/); // a and b were imported before v1.zip was refused
    expect(lastLine(r)).toMatch(/v1\.zip: entry "\.\.\/evil\.txt"/);
    const after = json<Ref[]>(await cli(["--json", "checkpoints", "list", "--instance", "ag"]));
    expect(after.map((x) => [x.handle, x.digest])).toEqual(old.map((x) => [x.handle, x.digest]));
    // The archive the undone import uploaded for the new handle `b` is unreferenced now, and
    // prune's collection frees it (the one of `a` stays in `a`'s history, as any superseded
    // version does, until trimmed).
    r = await cli([
      "--json",
      "checkpoints",
      "prune",
      "--instance",
      "ag",
      "--keep-last",
      "10",
      "--gc-min-age-ms",
      "0",
    ]);
    expect(JSON.parse(r.stdout).gc.deleted.length).toBeGreaterThanOrEqual(1);
  });
});

describe("importSteamship limits (the store's extract limits, here made small)", () => {
  it("refuses a zip over the total size, entry count or path length, storing nothing", async () => {
    const dir = join(cwd, "limits");
    await mkdir(dir, { recursive: true });
    // A MiB of zeros, deflated to about a kilobyte.
    python(
      "import zipfile, sys\nwith zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n    z.writestr('weights/zeros.bin', b'\\0' * (1 << 20))\n    z.writestr('a.txt', 'a')",
      [join(dir, "v1.zip")],
    );
    const store = await createCheckpointStore({
      url: pathToFileURL(join(cwd, "limits-store")).href,
      workspace: "local",
      fingerprintCache: false,
    });
    const attempt = (limits: Partial<ExtractLimits>) =>
      importSteamship({ store, pluginInstanceId: "lim", source: dir, limits });
    await expect(attempt({ maxTotalBytes: 1000 })).rejects.toThrow(
      /Refused v1\.zip: entry "weights\/zeros\.bin" brings the declared total to 1048576 bytes, over the limit of 1000/,
    );
    await expect(attempt({ maxEntries: 1 })).rejects.toThrow(
      /Refused v1\.zip: it declares 2 entries, more than the limit of 1/,
    );
    await expect(attempt({ maxPathLength: 5 })).rejects.toThrow(
      /entry "weights\/zeros\.bin" path is longer than 5 bytes/,
    );
    expect(await store.list({ pluginInstanceId: "lim" })).toEqual([]);
    const ok = await attempt({ maxTotalBytes: (1 << 20) + 1, maxEntries: 2 });
    expect(ok.imported.map((i) => i.handle)).toEqual(["v1"]);
    await store.close();
  });
});

describe("checkpoints push and pull", () => {
  it("never packs or replaces a folder holding the store, the data dir or the working directory", async () => {
    // A project folder whose default store (.trainable/store) lives inside it.
    const project = join(cwd, "project");
    await makeModel(join(project, "model"), "own state");
    await writeFile(join(project, "README.txt"), "notes");
    const inProject = (args: string[]) => spawnCli(project, args);
    let r = await inProject(["checkpoints", "push", "model", "--instance", "s", "--handle", "v1"]);
    expect(r.code, r.stderr).toBe(0);
    const before = (await readdir(project, { recursive: true })).sort();

    r = await inProject(["checkpoints", "push", ".", "--instance", "s", "--handle", "self"]);
    expect(r.code).toBe(2);
    expect(lastLine(r)).toMatch(/<dir>.*holds the store .* at .*\.trainable\/store/);
    r = await inProject(["checkpoints", "pull", "--instance", "s", ".", "--force"]);
    expect(r.code).toBe(2);
    expect(lastLine(r)).toMatch(/<dir>.*holds the engine's data dir|<dir>.*holds the store/);
    // Its store elsewhere: still refused, pulling would move the working directory away.
    r = await inProject([
      "--remote",
      pathToFileURL(join(cwd, "elsewhere-store")).href,
      "checkpoints",
      "pull",
      "--instance",
      "s",
      ".",
      "--force",
      "--data-dir",
      join(cwd, "elsewhere-data"),
    ]);
    expect(r.code).toBe(2);
    expect(lastLine(r)).toMatch(/holds the current directory/);
    // Nothing moved, nothing lost: the store still answers.
    expect((await readdir(project, { recursive: true })).sort()).toEqual(before);
    const refs = json<Ref[]>(await inProject(["--json", "checkpoints", "list", "--instance", "s"]));
    expect(refs.map((ref) => ref.handle).sort()).toEqual(["default", "v1"]);
  });

  it("round-trips a folder, moves default unless --no-default, and pulls only into empty folders", async () => {
    const folder = join(cwd, "push-me");
    await makeModel(folder, "push");
    let r = await cli(["checkpoints", "push", folder, "--instance", "p", "--handle", "v1"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/pushed .* as v1 \(default\)/);
    expect(r.stderr).toMatch(/upload \d/); // the same progress as a training save

    const other = join(cwd, "push-other");
    await mkdir(other);
    await writeFile(join(other, "x.txt"), "x");
    const pushed = json<{ handle: string; default: boolean; digest: string }>(
      await cli([
        "--json",
        "checkpoints",
        "push",
        other,
        "--instance",
        "p",
        "--handle",
        "v2",
        "--no-default",
      ]),
    );
    expect(pushed).toMatchObject({ handle: "v2", default: false });
    const refs = json<Ref[]>(await cli(["--json", "checkpoints", "list", "--instance", "p"]));
    expect(refs.find((x) => x.handle === "default")?.digest).toBe(
      refs.find((x) => x.handle === "v1")?.digest,
    );

    // Into a new folder; into an empty one.
    const fresh = join(cwd, "pull-fresh");
    r = await cli(["checkpoints", "pull", "--instance", "p", fresh]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/download \d/);
    expect(await snapshot(fresh)).toEqual(await snapshot(folder));
    const empty = join(cwd, "pull-empty");
    await mkdir(empty);
    r = await cli(["checkpoints", "pull", "--instance", "p", "--handle", "v2", empty]);
    expect(r.code, r.stderr).toBe(0);
    expect(await snapshot(empty)).toEqual(await snapshot(other));

    // A non-empty folder is left alone without --force, replaced with it.
    r = await cli(["checkpoints", "pull", "--instance", "p", "--handle", "v1", empty]);
    expect(r.code).toBe(2);
    expect(lastLine(r)).toMatch(/<dir>: .*pull-empty is not empty \(add --force/);
    expect(await snapshot(empty)).toEqual(await snapshot(other));
    r = await cli(["checkpoints", "pull", "--instance", "p", "--handle", "v1", empty, "--force"]);
    expect(r.code, r.stderr).toBe(0);
    expect(await snapshot(empty)).toEqual(await snapshot(folder));
    expect((await readdir(cwd)).filter((n) => n.includes(".pull-"))).toEqual([]);

    // A missing handle changes nothing; bad usage names the flag or argument.
    r = await cli(["checkpoints", "pull", "--instance", "p", "--handle", "nope", empty, "--force"]);
    expect(r.code).toBe(1);
    expect(await snapshot(empty)).toEqual(await snapshot(folder));
    r = await cli(["checkpoints", "pull", "--instance", "p"]);
    expect(r.code).toBe(2);
    expect(lastLine(r)).toMatch(/give the folder once: as \[dir\] or --out/);
    r = await cli(["checkpoints", "push", join(cwd, "nope"), "--instance", "p", "--handle", "v3"]);
    expect(r.code).toBe(2);
    expect(lastLine(r)).toMatch(/<dir>: no folder at/);
    r = await cli(["checkpoints", "push", folder, "--instance", "p", "--handle", "bad/handle"]);
    expect(r.code).toBe(2);
    expect(lastLine(r)).toMatch(/--handle: .*got "bad\/handle"/);
  });
});
