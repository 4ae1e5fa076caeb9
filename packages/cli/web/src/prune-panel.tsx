import { useState } from "preact/hooks";
import type { PruneAnswer } from "../../src/dashboard/api-types.js";
import { ApiError, send } from "./api.js";
import { ConfirmDialog } from "./confirm-dialog.js";
import { bytes } from "./format.js";

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
  const [fields, setFields] = useState<Fields>({
    keepLast: "1",
    keepBest: "",
    metric: props.metrics.includes("f1") ? "f1" : (props.metrics[0] ?? ""),
    mode: "max",
    protect: "",
  });
  const set = (key: keyof Fields, value: string) => setFields((f) => ({ ...f, [key]: value }));
  const [preview, setPreview] = useState<{ rules: Rules; answer: PruneAnswer } | null>(null);
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const rules = (): Rules => ({
    ...(fields.keepLast.trim() !== "" ? { keepLast: Number(fields.keepLast) } : {}),
    ...(fields.keepBest.trim() !== ""
      ? { keepBest: Number(fields.keepBest), metric: fields.metric }
      : {}),
    mode: fields.mode === "min" ? "min" : "max",
    protect: fields.protect
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
        // Names and digests: a handle re-saved since the preview is not deleted (409).
        expectDeleted: preview.answer.deletedRefs ?? [],
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
        <PruneFields fields={fields} set={set} metrics={props.metrics} />
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

/** The prune form's fields, as typed. */
interface Fields {
  keepLast: string;
  keepBest: string;
  metric: string;
  mode: string;
  protect: string;
}

function PruneFields({
  fields,
  set,
  metrics,
}: {
  fields: Fields;
  set(key: keyof Fields, value: string): void;
  metrics: string[];
}) {
  return (
    <>
      <label>
        Keep the newest
        <input
          name="keepLast"
          type="number"
          min={0}
          inputMode="numeric"
          value={fields.keepLast}
          onInput={(e) => set("keepLast", e.currentTarget.value)}
        />
      </label>
      <label>
        Keep the best
        <input
          name="keepBest"
          type="number"
          min={0}
          inputMode="numeric"
          value={fields.keepBest}
          onInput={(e) => set("keepBest", e.currentTarget.value)}
        />
      </label>
      <label>
        by metric
        <select
          name="metric"
          value={fields.metric}
          onChange={(e) => set("metric", e.currentTarget.value)}
        >
          {metrics.map((m) => (
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
          value={fields.mode}
          onChange={(e) => set("mode", e.currentTarget.value)}
        >
          <option value="max">higher</option>
          <option value="min">lower</option>
        </select>
      </label>
      <label class="wide">
        Also protect (comma-separated handles)
        <input
          name="protect"
          value={fields.protect}
          onInput={(e) => set("protect", e.currentTarget.value)}
        />
      </label>
    </>
  );
}
