import { isIP } from "node:net";
import { ValidationError } from "@trainable/core";
import { isLoopbackHostname } from "@trainable/plugin-runtime";

/** A DNS name as `--allowed-host` takes it: labels of letters, digits and `-`, dot-separated. */
const HOST_NAME =
  /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** `--allowed-host NAME` (repeatable): checked and lower-cased. */
export function parseAllowedHost(value: string, previous: string[] | undefined): string[] {
  const name = value.trim().toLowerCase();
  if (!HOST_NAME.test(name)) {
    throw ValidationError.forField(
      "cli",
      "--allowed-host",
      `must be a host name (letters, digits, - and dots, no port or scheme), got ${JSON.stringify(value)}`,
    );
  }
  return [...(previous ?? []), name];
}

/**
 * Whether a `Host` header may reach a dashboard without a token: a loopback name, an IP
 * literal (v4, or v6 in brackets; with or without a port), or one of `allowed` (names, lower
 * case). A DNS-rebinding page reaches the server under a domain name of its own, never under
 * an IP literal: refusing unknown names is what stops it.
 */
export function hostAllowed(header: string | undefined, allowed: readonly string[]): boolean {
  if (!header) return false;
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+))(?::\d{1,5})?$/.exec(header.trim());
  if (!match) return false;
  if (match[1] !== undefined) return isIP(match[1]) === 6;
  const name = (match[2] as string).toLowerCase();
  return isIP(name) === 4 || isLoopbackHostname(name) || allowed.includes(name);
}
