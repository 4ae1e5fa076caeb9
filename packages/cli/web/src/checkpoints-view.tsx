import { useEffect, useState } from "preact/hooks";
import type { CheckpointSummary, Task } from "../../src/dashboard/api-types.js";
import { ApiError, get, send } from "./api.js";
import { type CheckpointAction, CheckpointTable } from "./checkpoint-table.js";
import { ConfirmDialog } from "./confirm-dialog.js";
import { orderMetrics } from "./format.js";
import { MetricChart } from "./metric-chart.js";
import { PrunePanel } from "./prune-panel.js";
import { TrainingsTable } from "./trainings-table.js";

export interface CheckpointsProps {
  instance: string;
  tasks: Task[];
  readOnly: boolean;
  /** Changes when a training ends: the list is read again. */
  refreshKey: number;
  announce(message: string): void;
}

type Pending = CheckpointAction | null;

/** One instance: its trainings, its checkpoints (with actions), a metric chart, prune. */
export function CheckpointsView(props: CheckpointsProps) {
  const [checkpoints, setCheckpoints] = useState<CheckpointSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const [pending, setPending] = useState<Pending>(null);
  const [chosen, setChosen] = useState<string | null>(null);
  const base = `instances/${encodeURIComponent(props.instance)}`;

  useEffect(() => {
    get<{ checkpoints: CheckpointSummary[] }>(`${base}/checkpoints`).then(
      (a) => {
        setCheckpoints(a.checkpoints);
        setError(null);
      },
      (e) => setError(e instanceof ApiError ? e.message : String(e)),
    );
  }, [props.instance, props.refreshKey, reload]);

  // `default` is listed beside the handle it points at, unless it is the only name of its checkpoint.
  const named = (checkpoints ?? []).filter(
    (c) =>
      c.handle !== "default" ||
      !(checkpoints ?? []).some((o) => o.handle !== "default" && o.digest === c.digest),
  );
  const metrics = orderMetrics(named.flatMap((c) => Object.keys(c.metrics)));
  const shownMetric =
    chosen && metrics.includes(chosen) ? chosen : metrics.includes("f1") ? "f1" : metrics[0];
  const tableMetrics = metrics.slice(0, 4);
  if (shownMetric && !tableMetrics.includes(shownMetric)) tableMetrics.push(shownMetric);

  const act = async () => {
    const p = pending;
    setPending(null);
    if (!p) return;
    try {
      if (p.kind === "delete") {
        await send("DELETE", `${base}/checkpoints/${encodeURIComponent(p.handle)}`);
        props.announce(`Deleted ${p.handle}.`);
      } else {
        await send("POST", `${base}/default`, { handle: p.handle });
        props.announce(`default now points at ${p.handle}.`);
      }
    } catch (e) {
      props.announce(`Failed: ${e instanceof ApiError ? e.message : e}`);
    }
    setReload((n) => n + 1);
  };

  return (
    <>
      <h2>
        Instance <code>{props.instance}</code>
      </h2>
      <section class="card" aria-labelledby="trainings-title">
        <h3 id="trainings-title">Trainings</h3>
        <TrainingsTable
          tasks={props.tasks}
          readOnly={props.readOnly}
          announce={props.announce}
          showInstance={false}
        />
      </section>
      <section class="card" aria-labelledby="checkpoints-title">
        <h3 id="checkpoints-title">Checkpoints</h3>
        {error && (
          <p class="error-text" role="alert">
            {error}
          </p>
        )}
        {checkpoints === null && !error && <p class="muted">Loading…</p>}
        {checkpoints && named.length === 0 && <p class="muted">No checkpoints yet.</p>}
        {named.length > 0 && (
          <div class="table-wrap">
            <CheckpointTable
              instance={props.instance}
              checkpoints={named}
              metrics={tableMetrics}
              readOnly={props.readOnly}
              onAction={setPending}
            />
          </div>
        )}
      </section>
      {metrics.length > 0 && shownMetric && (
        <section class="card" aria-labelledby="chart-title">
          <h3 id="chart-title">Metric across checkpoints</h3>
          <label class="inline">
            Metric
            <select value={shownMetric} onChange={(e) => setChosen(e.currentTarget.value)}>
              {metrics.map((m) => (
                <option key={m} value={m}>
                  {m}
                </option>
              ))}
            </select>
          </label>
          <MetricChart
            id="checkpoint-chart"
            title={`${shownMetric} across the checkpoints of ${props.instance}`}
            xTitle="checkpoint"
            labels={named
              .filter((c) => c.handle !== "default" || named.length === 1)
              .map((c) => c.handle)}
            series={[
              {
                name: shownMetric,
                values: named
                  .filter((c) => c.handle !== "default" || named.length === 1)
                  .map((c) => c.metrics[shownMetric] ?? Number.NaN),
              },
            ]}
          />
        </section>
      )}
      {checkpoints && named.length > 0 && (
        <PrunePanel
          instance={props.instance}
          metrics={metrics}
          readOnly={props.readOnly}
          announce={props.announce}
          onPruned={() => setReload((n) => n + 1)}
        />
      )}
      {pending && (
        <ConfirmDialog
          title={
            pending.kind === "delete"
              ? `Delete ${pending.handle}?`
              : `Set ${pending.handle} as default?`
          }
          confirmLabel={pending.kind === "delete" ? "Delete" : "Set as default"}
          danger={pending.kind === "delete"}
          onConfirm={() => void act()}
          onCancel={() => setPending(null)}
        >
          <p>
            {pending.kind === "delete"
              ? `The handle ${pending.handle} goes; its blob stays while another handle uses it.`
              : `Serving of ${props.instance} moves to ${pending.handle}.`}
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}
