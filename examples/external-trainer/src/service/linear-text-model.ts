/**
 * The model the external service trains: a logistic regression over hashed word features
 * (2^18 buckets), learned with SGD one epoch at a time. It stands in for whatever a real
 * third-party service (AutoML, a hosted fine-tuning API) would train.
 */
const FEATURE_BITS = 18;
const DIM = 1 << FEATURE_BITS;

function hash(token: string): number {
  let h = 2166136261;
  for (let i = 0; i < token.length; i++) {
    h ^= token.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return (h >>> 0) & (DIM - 1);
}

export function features(text: string): number[] {
  const words = text.toLowerCase().match(/[a-z0-9$€!']{2,24}/g) ?? [];
  const out = new Set<number>();
  for (let i = 0; i < words.length && i < 4000; i++) {
    out.add(hash(words[i]!));
    if (i > 0) out.add(hash(`${words[i - 1]} ${words[i]}`));
  }
  return [...out];
}

export interface LinearModelState {
  labels: [string, string];
  bias: number;
  /** Non-zero weights only: [index, weight][]. */
  weights: [number, number][];
}

export class LinearTextModel {
  readonly weights = new Float64Array(DIM);
  bias = 0;
  constructor(readonly labels: [string, string]) {}

  score(feats: number[]): number {
    let z = this.bias;
    for (const f of feats) z += this.weights[f]!;
    return 1 / (1 + Math.exp(-z));
  }

  /** One SGD epoch; returns the mean log loss. */
  epoch(data: { feats: number[]; y: 0 | 1 }[], learningRate: number): number {
    let loss = 0;
    for (const { feats, y } of data) {
      const p = this.score(feats);
      const g = (p - y) * learningRate;
      this.bias -= g;
      for (const f of feats) this.weights[f]! -= g;
      loss += -(y ? Math.log(p + 1e-12) : Math.log(1 - p + 1e-12));
    }
    return loss / Math.max(1, data.length);
  }

  predict(text: string): { label: string; score: number } {
    const p = this.score(features(text));
    return { label: p >= 0.5 ? this.labels[1] : this.labels[0], score: p };
  }

  toState(): LinearModelState {
    const weights: [number, number][] = [];
    this.weights.forEach((w, i) => {
      if (w !== 0) weights.push([i, w]);
    });
    return { labels: this.labels, bias: this.bias, weights };
  }

  static fromState(state: LinearModelState): LinearTextModel {
    const m = new LinearTextModel(state.labels);
    m.bias = state.bias;
    for (const [i, w] of state.weights) m.weights[i] = w;
    return m;
  }
}
