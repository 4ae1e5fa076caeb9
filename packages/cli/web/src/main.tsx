import { render } from "preact";
import { useEffect, useMemo, useState } from "preact/hooks";
import "./style.css";
import type { Info, Task } from "../../src/dashboard/api-types.js";
import { ApiError, get, token } from "./api.js";
import { CheckpointsView } from "./checkpoints-view.js";
import { followEvents } from "./events.js";
import { InstancesView } from "./instances-view.js";
import { TrainingsTable } from "./trainings-table.js";

function useHash(): string {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const on = () => setHash(location.hash);
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  return hash;
}

function TokenForm(props: { onToken(): void; failed: boolean }) {
  const [value, setValue] = useState("");
  return (
    <form
      class="card token"
      onSubmit={(e) => {
        e.preventDefault();
        token.set(value.trim());
        props.onToken();
      }}
    >
      <h2>Access token</h2>
      <p>This dashboard needs the server's token (it stays in this browser tab only).</p>
      {props.failed && (
        <p class="error-text" role="alert">
          That token was not accepted.
        </p>
      )}
      <label>
        Token
        <input
          type="password"
          name="token"
          autocomplete="current-password"
          required
          value={value}
          onInput={(e) => setValue(e.currentTarget.value)}
        />
      </label>
      <button type="submit" class="primary">
        Open the dashboard
      </button>
    </form>
  );
}

function App() {
  const hash = useHash();
  const [info, setInfo] = useState<Info | null>(null);
  const [auth, setAuth] = useState<"ok" | "needed" | "refused">("ok");
  const [attempt, setAttempt] = useState(0);
  const [tasks, setTasks] = useState<Map<string, Task>>(new Map());
  const [connected, setConnected] = useState(false);
  const [finished, setFinished] = useState(0);
  const [message, setMessage] = useState("");

  useEffect(() => {
    get<Info>("info").then(
      (i) => {
        setInfo(i);
        setAuth("ok");
      },
      (e) => {
        if (e instanceof ApiError && e.status === 401) {
          setAuth(token.get() ? "refused" : "needed");
          token.clear();
        } else setMessage(`The dashboard's server did not answer: ${e}`);
      },
    );
  }, [attempt]);

  useEffect(() => {
    if (!info) return;
    return followEvents({
      snapshot: (list) => setTasks(new Map(list.map((t) => [t.taskId, t]))),
      task: (event) => {
        setTasks((old) => new Map(old).set(event.taskId, event.task));
        if (event.type === "finished") setFinished((n) => n + 1);
      },
      status: setConnected,
      unauthorized: () => setAuth("needed"),
    });
  }, [info]);

  const list = useMemo(
    () => [...tasks.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt)),
    [tasks],
  );
  const route = hash.replace(/^#/, "") || "/";
  const instance = /^\/instances\/([^/]+)$/.exec(route)?.[1];
  const page = instance ? "instance" : route === "/trainings" ? "trainings" : "instances";

  if (auth !== "ok") {
    return (
      <main id="main">
        <TokenForm failed={auth === "refused"} onToken={() => setAttempt((n) => n + 1)} />
      </main>
    );
  }
  const readOnly = info?.readOnly ?? true;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <h1>trainable</h1>
        <nav aria-label="Pages">
          <a href="#/" aria-current={page === "instances" ? "page" : undefined}>
            Instances
          </a>
          <a href="#/trainings" aria-current={page === "trainings" ? "page" : undefined}>
            Trainings
          </a>
        </nav>
        <p class="where">
          {info ? `${info.workspace} · ${info.store} · ${info.engine}` : ""}
          <span class={`live ${connected ? "on" : "off"}`}>{connected ? "live" : "offline"}</span>
          {readOnly && <span class="badge">read-only</span>}
        </p>
      </header>
      <main id="main" tabIndex={-1}>
        <p class="announce" role="status" aria-live="polite">
          {message}
        </p>
        {page === "instances" && <InstancesView refreshKey={finished} />}
        {page === "trainings" && (
          <section class="card" aria-labelledby="all-trainings">
            <h2 id="all-trainings">Trainings</h2>
            <TrainingsTable tasks={list} readOnly={readOnly} announce={setMessage} />
          </section>
        )}
        {page === "instance" && instance && (
          <CheckpointsView
            instance={decodeURIComponent(instance)}
            tasks={list.filter((t) => t.instanceId === decodeURIComponent(instance))}
            readOnly={readOnly}
            refreshKey={finished}
            announce={setMessage}
          />
        )}
      </main>
    </>
  );
}

const root = document.getElementById("app");
if (root) {
  root.textContent = "";
  render(<App />, root);
}
