/**
 * `trainable serve` with a bearer token (spawned binary): `--token`, `TRAINABLE_TOKEN` (the
 * flag wins), `--public-run`, and the refusal to listen beyond loopback without a token unless
 * `--insecure`. The token never shows in the output.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

const bin = join(import.meta.dirname, "..", "dist", "bin.js");
const plugin = join(import.meta.dirname, "__fixtures__", "echo-plugin.mjs");
const TOKEN = "cli-serve-token-0123456789abcdef";
const ENV_TOKEN = "env-serve-token-0123456789abcdef";

let cwd: string;
const children: ChildProcess[] = [];

interface Served {
  child: ChildProcess;
  url: string;
  /** Everything printed so far. */
  output: () => string;
}

/** Starts `trainable serve …` and resolves once it prints its URL. */
function serve(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Served> {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd,
    env: { ...process.env, NODE_NO_WARNINGS: "1", TRAINABLE_TOKEN: undefined, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    out += d;
  });
  return new Promise((resolve, reject) => {
    child.stdout?.on("data", () => {
      const m = /on (http:\/\/\S+) /.exec(out) ?? /"url": "(http:[^"]+)"/.exec(out);
      if (m) resolve({ child, url: m[1] as string, output: () => out });
    });
    child.on("exit", (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
}

/** Runs `trainable …` to its end. */
function run(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd,
      env: { ...process.env, NODE_NO_WARNINGS: "1", TRAINABLE_TOKEN: undefined, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

async function stop(served: Served): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => served.child.on("exit", resolve));
  served.child.kill("SIGTERM");
  return exited;
}

const trainBody = {
  data: { pluginInstance: "tagger", trainingParams: { word: "cat" } },
  context: { pluginInstanceId: "tagger" },
  save: { handle: "served" },
};
const runBody = {
  data: { file: { blocks: [{ text: "a cat" }] } },
  context: { pluginInstanceId: "tagger" },
};

async function post(url: string, body: unknown, token?: string) {
  const response = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

beforeAll(async () => {
  if (!existsSync(bin)) throw new Error("build the CLI first (turbo builds it before tests)");
  cwd = await mkdtemp(join(tmpdir(), "trainable-cli-auth-"));
});
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
});
afterAll(async () => {
  await rm(cwd, { recursive: true, force: true });
});

describe("trainable serve with a token (spawned binary)", () => {
  it("--token: training needs it, /health does not, and the token is never printed", async () => {
    const served = await serve([
      "serve",
      "--plugin",
      plugin,
      "--port",
      "0",
      "--instance",
      "tagger",
      "--token",
      TOKEN,
    ]);
    expect(served.output()).toMatch(/token required/);
    expect((await fetch(`${served.url}/health`)).status).toBe(200);
    const refused = await post(`${served.url}/train`, trainBody);
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect(JSON.parse(refused.text).error.message).toMatch(/Unauthorized/);
    expect((await post(`${served.url}/train`, trainBody, `${TOKEN}x`)).status).toBe(401);
    expect((await post(`${served.url}/tag`, runBody)).status).toBe(401);
    const trained = await post(`${served.url}/train`, trainBody, TOKEN);
    expect(trained.status, trained.text).toBe(200);
    expect(JSON.parse(trained.text).status.output).toMatchObject({ handle: "served" });
    const tagged = await post(`${served.url}/tag`, runBody, TOKEN);
    expect(JSON.parse(tagged.text).data.file.blocks[0].tags[0].name).toBe("cat");
    expect(await stop(served)).toBe(0);
    expect(served.output()).not.toContain(TOKEN);
  });

  it("TRAINABLE_TOKEN (a comma-separated list) when there is no --token; the flag wins", async () => {
    const fromEnv = await serve(["--json", "serve", "--plugin", plugin, "--port", "0"], {
      TRAINABLE_TOKEN: `${ENV_TOKEN}, ${TOKEN}`,
    });
    expect(JSON.parse(fromEnv.output())).toMatchObject({ token: true, publicRun: false });
    const params = { data: { pluginInstance: "tagger" }, context: { pluginInstanceId: "tagger" } };
    expect((await post(`${fromEnv.url}/getTrainingParameters`, params)).status).toBe(401);
    expect((await post(`${fromEnv.url}/getTrainingParameters`, params, ENV_TOKEN)).status).toBe(
      200,
    );
    expect((await post(`${fromEnv.url}/getTrainingParameters`, params, TOKEN)).status).toBe(200);
    expect(await stop(fromEnv)).toBe(0);
    expect(fromEnv.output()).not.toContain(ENV_TOKEN);

    const flagWins = await serve(["serve", "--plugin", plugin, "--port", "0", "--token", TOKEN], {
      TRAINABLE_TOKEN: ENV_TOKEN,
    });
    expect((await post(`${flagWins.url}/getTrainingParameters`, params, ENV_TOKEN)).status).toBe(
      401,
    );
    expect((await post(`${flagWins.url}/getTrainingParameters`, params, TOKEN)).status).toBe(200);
    expect(await stop(flagWins)).toBe(0);
  });

  it("--public-run opens inference only", async () => {
    const served = await serve([
      "serve",
      "--plugin",
      plugin,
      "--port",
      "0",
      "--token",
      TOKEN,
      "--public-run",
    ]);
    expect((await post(`${served.url}/tag`, runBody)).status).not.toBe(401);
    expect((await post(`${served.url}/train`, trainBody)).status).toBe(401);
    expect(await stop(served)).toBe(0);
  });

  it("refuses --host 0.0.0.0 without a token: exit 2, one line naming --token and TRAINABLE_TOKEN, nothing created", async () => {
    const dataDir = join(cwd, "refused-engine");
    const r = await run([
      "--data-dir",
      dataDir,
      "serve",
      "--plugin",
      plugin,
      "--port",
      "0",
      "--host",
      "0.0.0.0",
      "--instance",
      "refused",
    ]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^trainable: error \[VALIDATION\]: --token is required/);
    expect(lines[0]).toMatch(/0\.0\.0\.0/);
    expect(lines[0]).toMatch(/TRAINABLE_TOKEN/);
    expect(lines[0]).toMatch(/--insecure/);
    expect(r.stdout).toBe("");
    expect(existsSync(dataDir)).toBe(false);

    for (const host of ["::", "192.168.0.10"]) {
      const other = await run(["serve", "--plugin", plugin, "--port", "0", "--host", host]);
      expect(other.code, host).toBe(2);
      expect(other.stderr).toMatch(/--token is required/);
    }
  });

  it("refuses a bad or empty token naming its source, never echoing it", async () => {
    const secret = "tooShortSecret";
    let r = await run(["serve", "--plugin", plugin, "--port", "0", "--token", secret]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Invalid --token: must be 16 to 4096 characters long/);
    expect(r.stderr).not.toContain(secret);
    r = await run(["serve", "--plugin", plugin, "--port", "0"], { TRAINABLE_TOKEN: "" });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Invalid TRAINABLE_TOKEN: is set but empty/);
    r = await run(["serve", "--plugin", plugin, "--port", "0"], {
      TRAINABLE_TOKEN: `${TOKEN},${secret} !`,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/Invalid TRAINABLE_TOKEN \(item 2\)/);
    expect(r.stderr).not.toContain(secret);
    expect(r.stderr).not.toContain(TOKEN);
    // Refused before --instance changed anything.
    const dataDir = join(cwd, "bad-token-engine");
    r = await run([
      "--data-dir",
      dataDir,
      "serve",
      "--plugin",
      plugin,
      "--port",
      "0",
      "--instance",
      "never",
      "--token",
      secret,
    ]);
    expect(r.code).toBe(2);
    const instances = await readdir(join(dataDir, "instances")).catch(() => []);
    expect(instances).toEqual([]);
  });

  it("serves on 0.0.0.0 with a token, or with --insecure and a warning", async () => {
    const withToken = await serve([
      "serve",
      "--plugin",
      plugin,
      "--port",
      "0",
      "--host",
      "0.0.0.0",
      "--token",
      TOKEN,
    ]);
    const port = new URL(withToken.url).port;
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
    expect(withToken.output()).not.toMatch(/warning/);
    expect(await stop(withToken)).toBe(0);

    const insecure = await serve([
      "serve",
      "--plugin",
      plugin,
      "--port",
      "0",
      "--host",
      "0.0.0.0",
      "--insecure",
    ]);
    expect(insecure.output()).toMatch(
      /trainable: warning: serving on 0\.0\.0\.0 without a token \(--insecure\)/,
    );
    const insecurePort = new URL(insecure.url).port;
    expect((await fetch(`http://127.0.0.1:${insecurePort}/health`)).status).toBe(200);
    expect(await stop(insecure)).toBe(0);
  });
});
