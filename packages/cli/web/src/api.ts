/** The dashboard's API, relative to the page (it works at `/` and at `/ui/`). */

const TOKEN_KEY = "trainable-dashboard-token";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const token = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (value: string) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

export function headers(extra: Record<string, string> = {}): Record<string, string> {
  const t = token.get();
  return { ...(t ? { authorization: `Bearer ${t}` } : {}), ...extra };
}

async function answer<T>(response: Response): Promise<T> {
  const body = (await response.json().catch(() => ({}))) as {
    error?: { code?: string; message?: string };
  };
  if (!response.ok) {
    throw new ApiError(
      response.status,
      body.error?.code ?? "HTTP",
      body.error?.message ?? `${response.status} ${response.statusText}`,
    );
  }
  return body as T;
}

export async function get<T>(path: string): Promise<T> {
  return answer<T>(await fetch(`./api/${path}`, { headers: headers() }));
}

/** A change: JSON body, and the header that tells the server it comes from this page. */
export async function send<T>(method: "POST" | "DELETE", path: string, body?: unknown) {
  const response = await fetch(`./api/${path}`, {
    method,
    headers: headers({
      "content-type": "application/json",
      "x-trainable-dashboard": "1",
    }),
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return answer<T>(response);
}
