// Benchmark data sets, generated once into bench/.data (gitignored) and reused:
//   A weights-heavy: one 1 GiB incompressible file + 20 small JSON files
//   B many-files:    5,000 text files of 1-64 KiB (~160 MiB)
//   C tiny:          a 10 KiB model
// A data set is complete when its marker `<dir>.complete` exists (beside the folder, so the
// folder holds exactly the data set's files).
import { randomFillSync } from "node:crypto";
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";

export const DATA_DIR = join(import.meta.dirname, ".data");

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS =
  "the of and to in is that for it as with was on be by weight layer model token gradient epoch loss tensor batch vocabulary embedding attention".split(
    " ",
  );

function make(name, build) {
  const dir = join(DATA_DIR, name);
  const marker = `${dir}.complete`;
  // Data sets made by an older harness kept their marker inside the folder: move it out.
  if (existsSync(join(dir, ".complete"))) renameSync(join(dir, ".complete"), marker);
  if (existsSync(marker)) return dir;
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  build(tmp);
  renameSync(tmp, dir);
  writeFileSync(marker, "");
  return dir;
}

export function datasetA(sizeBytes = 1024 ** 3) {
  return make(`A-${sizeBytes}`, (dir) => {
    mkdirSync(join(dir, "model"));
    const fd = openSync(join(dir, "model", "weights.bin"), "w");
    const chunk = Buffer.allocUnsafe(8 << 20);
    for (let written = 0; written < sizeBytes; written += chunk.length) {
      randomFillSync(chunk);
      writeSync(fd, chunk, 0, Math.min(chunk.length, sizeBytes - written));
    }
    closeSync(fd);
    for (let i = 0; i < 20; i++) {
      writeFileSync(
        join(dir, `config-${i}.json`),
        JSON.stringify({ layer: i, hidden: 4096, heads: 32, note: "x".repeat(200) }),
      );
    }
  });
}

export function datasetB(files = 5000) {
  return make(`B-${files}`, (dir) => {
    const rand = mulberry32(7);
    for (let i = 0; i < files; i++) {
      const sub = join(dir, `shard-${String(i % 50).padStart(2, "0")}`);
      if (i < 50) mkdirSync(sub);
      const size = 1024 + Math.floor(rand() * 63 * 1024);
      let text = "";
      while (text.length < size) text += `${WORDS[Math.floor(rand() * WORDS.length)]} `;
      writeFileSync(join(sub, `doc-${i}.txt`), text.slice(0, size));
    }
  });
}

export function datasetC() {
  return make("C", (dir) => {
    const buf = Buffer.alloc(10 * 1024);
    randomFillSync(buf);
    writeFileSync(join(dir, "model.bin"), buf);
    writeFileSync(join(dir, "config.json"), JSON.stringify({ kind: "tiny" }));
  });
}

/** Files, folders and bytes of a data set folder (what a save of it holds). */
export function describe(dir) {
  const out = { files: 0, directories: 0, bytes: 0, largestFileBytes: 0 };
  const walk = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) {
        out.directories++;
        walk(p);
      } else {
        out.files++;
        out.bytes += st.size;
        out.largestFileBytes = Math.max(out.largestFileBytes, st.size);
      }
    }
  };
  walk(dir);
  return out;
}
