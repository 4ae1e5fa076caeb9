import { ValidationError } from "@trainable/core";
import { isLoopbackHostname } from "@trainable/plugin-runtime";
import { TOKEN_ENV } from "../../server-flags.js";

/**
 * The runtime's rule, checked by `serve` before it opens or creates anything: a host that is
 * not loopback needs a token, unless `--insecure`. Returns whether the host is loopback.
 */
export function requireTokenOffLoopback(options: {
  host: string;
  token: boolean;
  insecure: boolean;
}): boolean {
  const loopback = isLoopbackHostname(options.host);
  if (!options.token && !loopback && !options.insecure) {
    const problem = `is required to listen on ${options.host}, which is not a loopback address (anyone who can reach the port could train, cancel trainings and register instances): pass --token <secret> or set ${TOKEN_ENV} (e.g. ${TOKEN_ENV}=$(openssl rand -hex 32)), or add --insecure to serve without one (dangerous)`;
    throw new ValidationError(`[cli] --token ${problem}`, {
      issues: [{ path: "--token", message: problem }],
    });
  }
  return loopback;
}
