import { useState } from "preact/hooks";
import { ApiError, send } from "./api.js";
import { ConfirmDialog } from "./confirm-dialog.js";
import { bytes } from "./format.js";
import type { PruneAnswer } from "./types.js";

export interface PruneProps {
  instance: string;
  metrics: string[];
  readOnly: boolean;
  announce(message: string): void;
  onPruned(): void;
}

interface Rules {
  keepLast?: number;
  keepBest?: number;
  metric?: string;
  mode: "max" | "min";
  protect: string[];
}

/**
 * Prune: the rules, a preview (a dry run on the server: what would be deleted and kept), and
 * only then the prune itself, after a confirmation naming the handles.
 */
export function PrunePanel(props: PruneProps) {
  const [keepLast, setKeepLast] = useState("1");
  const [keepBest, setKeepBest] = useState("");
  const [metric, setMetric] = useState(
    props.metrics.includes("f1") ? "f1" : (props.metrics[0] ?? ""),
  );
  const [mode, setMode] = useState<"max" | "min">("max");
  const [protect, setProtect] = useState("");
  const [preview, setPreview] = useState<{ rules: Rules; answer: PruneAnswer } | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const rules = (): Rules => ({
    ...(keepLast.trim() !== "" ? { keepLast: Number(keepLast) } : {}),
    ...(keepBest.trim() !== "" ? { keepBest: Number(keepBest), metric } : {}),
    mode,
    protect: protect
      .split(",")
      .map((h) => h.trim())
      .filter(Boolean),
  });
  const path = `instances/${encodeURIComponent(props.instance)}/prune`;

  const dryRun = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const asked = rules();
      const answer = await send<PruneAnswer>("POST", path, { ...asked, dryRun: true });
      setPreview({ rules: asked, answer });
    } catch (err) {
      setPreview(null);
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };

  const prune = async () => {
    if (!preview) return;
    setConfirming(false);
    try {
      const answer = await send<PruneAnswer>("POST", path, {
        ...preview.rules,
        dryRun: false,
        expectDeleted: preview.answer.deleted,
      });
      props.announce(
        `Pruned ${props.instance}: deleted ${answer.deleted.join(", ") || "nothing"}${answer.gc ? `; ${answer.gc.blobsDeleted} blobs freed (${bytes(answer.gc.bytesFreed)})` : ""}.`,
      );
      setPreview(null);
      props.onPruned();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };

  return (
    <section class="card" aria-labelledby="prune-title">
      <h3 id="prune-title">Prune checkpoints</h3>
      <p class="muted">
        <code>default</code> and the protected handles are always kept. Preview first: nothing is
        deleted until you confirm.
      </p>
      <form class="prune-form" onSubmit={dryRun}>
        <label>
          Keep the newest
          <input
            name="keepLast"
            type="number"
            min={0}
            inputMode="numeric"
            value={keepLast}
            onInput={(e) => setKeepLast(e.currentTarget.value)}
          />
        </label>
        <label>
          Keep the best
          <input
            name="keepBest"
            type="number"
            min={0}
            inputMode="numeric"
            value={keepBest}
            onInput={(e) => setKeepBest(e.currentTarget.value)}
          />
        </label>
        <label>
          by metric
          <select name="metric" value={metric} onChange={(e) => setMetric(e.currentTarget.value)}>
            {props.metrics.map((m) => (
              <option key={m} value={m}>
                {m}
              </option>
            ))}
          </select>
        </label>
        <label>
          better is
          <select
            name="mode"
            value={mode}
            onChange={(e) => setMode(e.currentTarget.value as "max" | "min")}
          >
            <option value="max">higher</option>
            <option value="min">lower</option>
          </select>
        </label>
        <label class="wide">
          Also protect (comma-separated handles)
          <input
            name="protect"
            value={protect}
            onInput={(e) => setProtect(e.currentTarget.value)}
          />
        </label>
        <div class="actions">
          <button type="submit" disabled={props.readOnly}>
            Preview (dry run)
          </button>
        </div>
      </form>
      {error && (
        <p class="error-text" role="alert">
          {error}
        </p>
      )}
      {preview && (
        <div class="preview" data-testid="prune-preview">
          <p>
            Would delete: <strong>{preview.answer.deleted.join(", ") || "nothing"}</strong>
          </p>
          <p>Would keep: {preview.answer.kept.join(", ") || "nothing"}</p>
          <button
            type="button"
            class="danger"
            disabled={props.readOnly || preview.answer.deleted.length === 0}
            onClick={() => setConfirming(true)}
          >
            Prune…
          </button>
        </div>
      )}
      {confirming && preview && (
        <ConfirmDialog
          title={`Prune ${props.instance}?`}
          confirmLabel={`Delete ${preview.answer.deleted.length} checkpoint${preview.answer.deleted.length === 1 ? "" : "s"}`}
          danger
          onConfirm={() => void prune()}
          onCancel={() => setConfirming(false)}
        >
          <p>
            This deletes <strong>{preview.answer.deleted.join(", ")}</strong> and frees the blobs no
            other handle uses. It cannot be undone.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
