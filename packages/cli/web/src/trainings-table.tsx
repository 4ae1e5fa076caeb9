import { Fragment } from "preact";
import { useState } from "preact/hooks";
import type { Task } from "../../src/dashboard/api-types.js";
import { ApiError, send } from "./api.js";
import { date, epochMetrics, isActive, percent, progressText } from "./format.js";
import { MetricChart } from "./metric-chart.js";

export interface TrainingsProps {
  tasks: Task[];
  readOnly: boolean;
  announce(message: string): void;
  /** Show the instance column (off on an instance's own page). */
  showInstance?: boolean;
}

function Progress({ task }: { task: Task }) {
  const value = percent(task);
  const label = `Progress of training ${task.taskId}`;
  if (value === undefined) {
    return <span class="muted">{isActive(task) ? "working…" : "–"}</span>;
  }
  return (
    <div class="progress">
      <div
        class="bar"
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={value}
        data-testid={`progress-${task.taskId}`}
      >
        <div class={`fill state-${task.state}`} style={{ width: `${value}%` }} />
      </div>
      <span class="pct">{value} %</span>
    </div>
  );
}

function Detail({ task }: { task: Task }) {
  const { epochs, series } = epochMetrics(task);
  const messages = task.updates
    .map((u) => ("statusMessage" in u.update ? u.update.statusMessage : undefined))
    .filter((m): m is string => typeof m === "string");
  const stage = task.progress?.stage;
  return (
    <div class="detail">
      <dl>
        <dt>Task</dt>
        <dd>
          <code>{task.taskId}</code>
        </dd>
        <dt>Saves to</dt>
        <dd>
          {task.save.handle}
          {task.save.setAsDefault ? " (and moves default)" : ""}
        </dd>
        <dt>Started</dt>
        <dd>{date(task.startedAt)}</dd>
        <dt>Finished</dt>
        <dd>{date(task.finishedAt)}</dd>
        {typeof stage === "string" && (
          <>
            <dt>Stage</dt>
            <dd>{stage}</dd>
          </>
        )}
        {task.error && (
          <>
            <dt>Error</dt>
            <dd class="error-text">
              [{task.error.code}] {task.error.message}
            </dd>
          </>
        )}
      </dl>
      {messages.length > 0 && (
        <>
          <h4>Status messages</h4>
          <ol class="messages">
            {messages.slice(-10).map((m, i) => (
              <li key={`${i}-${m}`}>{m}</li>
            ))}
          </ol>
        </>
      )}
      {epochs.length > 0 && (
        <MetricChart
          id={`epochs-${task.taskId}`}
          title={`Metrics by epoch of training ${task.taskId.slice(0, 8)}`}
          xTitle="epoch"
          labels={epochs.map(String)}
          series={Object.entries(series).map(([name, values]) => ({ name, values }))}
        />
      )}
    </div>
  );
}

/** Trainings, newest first: state, live progress, status message, error, cancel. */
export function TrainingsTable(props: TrainingsProps) {
  const [open, setOpen] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const active = props.tasks.find(isActive);
  const shown = open ?? active?.taskId ?? null;
  const cancel = async (task: Task) => {
    setBusy(task.taskId);
    try {
      const answer = await send<{ task: Task; requested: boolean }>(
        "POST",
        `tasks/${encodeURIComponent(task.taskId)}/cancel`,
      );
      props.announce(
        answer.requested
          ? `Cancel of ${task.taskId} requested: the process driving it stops it.`
          : `Training ${task.taskId} is ${answer.task.state}.`,
      );
    } catch (error) {
      props.announce(`Cancel failed: ${error instanceof ApiError ? error.message : error}`);
    } finally {
      setBusy(null);
    }
  };
  if (props.tasks.length === 0) return <p class="muted">No trainings yet.</p>;
  return (
    <div class="table-wrap">
      <table class="trainings">
        <caption class="sr-only">Trainings, newest first</caption>
        <thead>
          <tr>
            {props.showInstance !== false && <th scope="col">Instance</th>}
            <th scope="col">State</th>
            <th scope="col">Progress</th>
            <th scope="col">Status</th>
            <th scope="col">Created</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {props.tasks.map((task) => (
            <Fragment key={task.taskId}>
              <tr data-testid={`task-${task.taskId}`}>
                {props.showInstance !== false && (
                  <td>
                    <a href={`#/instances/${encodeURIComponent(task.instanceId)}`}>
                      {task.instanceId}
                    </a>
                  </td>
                )}
                <td>
                  <span class={`badge state-${task.state}`}>{task.state}</span>
                </td>
                <td>
                  <Progress task={task} />
                </td>
                <td class="status">
                  {task.error ? (
                    <span class="error-text">{task.error.message}</span>
                  ) : (
                    (task.statusMessage ?? progressText(task))
                  )}
                </td>
                <td>{date(task.createdAt)}</td>
                <td class="actions">
                  <button
                    type="button"
                    aria-expanded={shown === task.taskId}
                    aria-controls={`detail-${task.taskId}`}
                    onClick={() => setOpen(shown === task.taskId ? "" : task.taskId)}
                  >
                    Details
                  </button>
                  {isActive(task) && (
                    <button
                      type="button"
                      class="danger"
                      disabled={props.readOnly || busy === task.taskId}
                      title={props.readOnly ? "read-only dashboard" : undefined}
                      onClick={() => void cancel(task)}
                    >
                      Cancel
                    </button>
                  )}
                </td>
              </tr>
              {shown === task.taskId && (
                <tr key={`${task.taskId}-detail`} id={`detail-${task.taskId}`}>
                  <td colSpan={props.showInstance !== false ? 6 : 5}>
                    <Detail task={task} />
                  </td>
                </tr>
              )}
            </Fragment>
          ))}
        </tbody>
      </table>
    </div>
  );
}
