import { useEffect, useState } from "preact/hooks";
import type { InstanceRow, InstancesAnswer } from "../../src/dashboard/api-types.js";
import { ApiError, get } from "./api.js";
import { date, metric, orderMetrics, shortDigest } from "./format.js";

/** Plugin instances with their `default` checkpoint and config. */
export function InstancesView(props: { refreshKey: number }) {
  const [rows, setRows] = useState<InstanceRow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [storeError, setStoreError] = useState<string | null>(null);
  useEffect(() => {
    get<InstancesAnswer>("instances").then(
      (a) => {
        setRows(a.instances);
        setStoreError(a.storeError ?? null);
        setError(null);
      },
      (e) => setError(e instanceof ApiError ? e.message : String(e)),
    );
  }, [props.refreshKey]);
  return (
    <section class="card" aria-labelledby="instances-title">
      <h2 id="instances-title">Plugin instances</h2>
      {error && (
        <p class="error-text" role="alert">
          {error}
        </p>
      )}
      {storeError && (
        <p class="error-text" role="alert">
          The store's instances could not be listed: {storeError}
        </p>
      )}
      {rows === null && !error && <p class="muted">Loading…</p>}
      {rows && rows.length === 0 && (
        <p class="muted">
          No instances yet: <code>trainable train --plugin … --instance NAME</code> creates one (
          <code>trainable checkpoints push</code> stores a folder for one).
        </p>
      )}
      {rows && rows.length > 0 && (
        <div class="table-wrap">
          <table data-testid="instances">
            <caption class="sr-only">Plugin instances</caption>
            <thead>
              <tr>
                <th scope="col">Instance</th>
                <th scope="col">Plugin</th>
                <th scope="col">Default checkpoint</th>
                <th scope="col">Metrics</th>
                <th scope="col">Trainings</th>
                <th scope="col">Config</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
                <tr key={row.id} data-testid={`instance-${row.id}`}>
                  <th scope="row">
                    <a href={`#/instances/${encodeURIComponent(row.id)}`}>{row.id}</a>
                  </th>
                  <td>
                    {row.plugin ?? (
                      <span
                        class="muted"
                        title="Only checkpoints in the store (pushed or imported)"
                      >
                        –
                      </span>
                    )}
                  </td>
                  <td>
                    {row.default ? (
                      <>
                        <code title={row.default.digest}>{shortDigest(row.default.digest)}</code>
                        <div class="muted small">{date(row.default.createdAt)}</div>
                      </>
                    ) : row.defaultError ? (
                      <span class="error-text">{row.defaultError}</span>
                    ) : (
                      <span class="muted">none</span>
                    )}
                  </td>
                  <td>
                    {row.default
                      ? orderMetrics(Object.keys(row.default.metrics))
                          .slice(0, 4)
                          .map((k) => [k, row.default?.metrics[k]] as const)
                          .map(([k, v]) => (
                            <div key={k}>
                              {k} <strong>{metric(v)}</strong>
                            </div>
                          ))
                      : "–"}
                  </td>
                  <td>
                    {row.trainings}
                    {row.running > 0 && (
                      <span class="badge state-running">{row.running} running</span>
                    )}
                  </td>
                  <td>
                    {row.configHidden ? (
                      <span class="muted">hidden in read-only mode</span>
                    ) : row.config === undefined ? (
                      <span class="muted">–</span>
                    ) : (
                      <details>
                        <summary>config</summary>
                        <pre>{JSON.stringify(row.config, null, 2)}</pre>
                      </details>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
