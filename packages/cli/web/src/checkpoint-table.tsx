import type { CheckpointSummary } from "../../src/dashboard/api-types.js";
import { bytes, date, metric, shortDigest } from "./format.js";

/** What a row's button asks for (confirmed in a dialog by the view). */
export interface CheckpointAction {
  kind: "delete" | "default";
  handle: string;
}

export interface CheckpointTableProps {
  instance: string;
  checkpoints: CheckpointSummary[];
  /** The metric columns. */
  metrics: string[];
  readOnly: boolean;
  onAction(action: CheckpointAction): void;
}

/** An instance's checkpoints: handle (and `default`), digest, size, files, date, parent, metrics. */
export function CheckpointTable(props: CheckpointTableProps) {
  return (
    <table class="checkpoints" data-testid="checkpoints">
      <caption class="sr-only">Checkpoints of {props.instance}, oldest first</caption>
      <thead>
        <tr>
          <th scope="col">Handle</th>
          <th scope="col">Digest</th>
          <th scope="col">Size</th>
          <th scope="col">Files</th>
          <th scope="col">Created</th>
          <th scope="col">Parent</th>
          {props.metrics.map((m) => (
            <th scope="col" key={m}>
              {m}
            </th>
          ))}
          <th scope="col">Actions</th>
        </tr>
      </thead>
      <tbody>
        {props.checkpoints.map((c) => (
          <tr key={c.handle} data-testid={`checkpoint-${c.handle}`}>
            <th scope="row">
              {c.handle}
              {c.isDefault && c.handle !== "default" && <span class="badge default">default</span>}
            </th>
            <td>
              <code title={c.digest}>{shortDigest(c.digest)}</code>
            </td>
            <td>{bytes(c.size)}</td>
            <td>{c.files}</td>
            <td>{date(c.createdAt)}</td>
            <td>
              <code title={c.parent ?? "none"}>{shortDigest(c.parent)}</code>
            </td>
            {props.metrics.map((m) => (
              <td key={m} data-metric={m}>
                {metric(c.metrics[m])}
              </td>
            ))}
            <td class="actions">
              {!c.isDefault && (
                <button
                  type="button"
                  disabled={props.readOnly}
                  onClick={() => props.onAction({ kind: "default", handle: c.handle })}
                >
                  Set as default
                </button>
              )}
              {c.handle.toLowerCase() !== "default" && (
                <button
                  type="button"
                  class="danger"
                  disabled={props.readOnly}
                  onClick={() => props.onAction({ kind: "delete", handle: c.handle })}
                >
                  Delete
                </button>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
