import {
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";
import { useEffect, useRef } from "preact/hooks";
import { metric as formatMetric } from "./format.js";

Chart.register(
  LineController,
  LineElement,
  PointElement,
  LinearScale,
  CategoryScale,
  Tooltip,
  Legend,
);
Chart.defaults.animation = false;
Chart.defaults.font.family = "DejaVu Sans, system-ui, sans-serif";
Chart.defaults.color = "#1f2328";

const COLORS = ["#0b57d0", "#b3261e", "#137333", "#8430ce", "#b06000"];

export interface MetricChartProps {
  /** What the chart shows, e.g. "f1 across the checkpoints of spam". */
  title: string;
  /** The x axis: checkpoint handles or epochs. */
  labels: string[];
  xTitle: string;
  series: { name: string; values: number[] }[];
  id: string;
}

/**
 * A line chart (Chart.js, on a canvas) with a text alternative: the canvas is an image whose
 * label says what it shows, and the same numbers are in a table below it.
 */
export function MetricChart(props: MetricChartProps) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart | null>(null);

  useEffect(() => {
    if (!canvas.current) return;
    chart.current = new Chart(canvas.current, {
      type: "line",
      data: { labels: [], datasets: [] },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { title: { display: true, text: props.xTitle } },
          y: { title: { display: true, text: "value" } },
        },
        plugins: { legend: { display: true, position: "bottom" } },
      },
    });
    return () => chart.current?.destroy();
  }, []);

  useEffect(() => {
    const c = chart.current;
    if (!c) return;
    c.data.labels = props.labels;
    c.data.datasets = props.series.map((s, i) => ({
      label: s.name,
      data: s.values,
      borderColor: COLORS[i % COLORS.length],
      backgroundColor: COLORS[i % COLORS.length],
      pointRadius: 4,
      borderWidth: 2,
      spanGaps: true,
    }));
    c.update();
  }, [props.labels.join("\u0000"), JSON.stringify(props.series)]);

  const summary = props.series
    .map(
      (s) =>
        `${s.name}: ${s.values.map((v, i) => `${props.labels[i]} ${formatMetric(v)}`).join(", ")}`,
    )
    .join("; ");
  return (
    <figure class="chart" data-testid={props.id}>
      <figcaption>{props.title}</figcaption>
      <div class="chart-box">
        <canvas ref={canvas} role="img" aria-label={`${props.title}. ${summary}`} />
      </div>
      <details>
        <summary>Data as a table</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">{props.xTitle}</th>
              {props.series.map((s) => (
                <th scope="col" key={s.name}>
                  {s.name}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {props.labels.map((label, i) => (
              <tr key={label}>
                <th scope="row">{label}</th>
                {props.series.map((s) => (
                  <td key={s.name}>{formatMetric(s.values[i])}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
