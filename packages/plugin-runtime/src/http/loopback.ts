import { BlockList, isIP } from "node:net";

const loopback = new BlockList();
loopback.addSubnet("127.0.0.0", 8, "ipv4");
loopback.addAddress("::1", "ipv6");

/**
 * True when listening on `hostname` only accepts connections from this machine: `localhost`,
 * an IPv4 address in 127.0.0.0/8, `::1` (in any spelling) or an IPv4-mapped 127.x address.
 * Anything else — `0.0.0.0`, `::`, a LAN address, another host name — is not (a name is never
 * resolved: only `localhost` is trusted to stay local).
 */
export function isLoopbackHostname(hostname: string): boolean {
  const host = hostname.trim().toLowerCase();
  if (host === "localhost") return true;
  const family = isIP(host);
  if (family === 0) return false;
  return loopback.check(host, family === 4 ? "ipv4" : "ipv6");
}
