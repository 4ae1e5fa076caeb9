/**
 * The routes open to anyone when a token is configured: `GET /health` (and `HEAD`), plus
 * `POST /run` and `POST /{alias}` when `protectRun` is false. Every other request — any
 * method, any path, including routes added later such as `/tasks/*`, and unknown ones —
 * needs the token.
 */
export function publicRoutes(alias: string | undefined, protectRun: boolean): Set<string> {
  const open = new Set(["GET /health", "HEAD /health"]);
  if (!protectRun) {
    open.add("POST /run");
    if (alias) open.add(`POST /${alias}`);
  }
  return open;
}

/** The routes a plugin app serves, as `GET /health` lists them. */
export function routeTable(
  alias: string | undefined,
  trainable: boolean,
  registration: boolean,
): string[] {
  const list = ["GET /health", "POST /run"];
  if (alias) list.push(`POST /${alias}`);
  if (trainable) list.push("POST /getTrainingParameters", "POST /train", "POST /cancelTraining");
  if (registration) list.push("PUT /instances/:id");
  return list;
}
