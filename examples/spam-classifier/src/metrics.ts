import type { Label } from "./types.js";

/** Counts with `"spam"` as the positive class. */
export interface ConfusionMatrix {
  truePositive: number;
  falsePositive: number;
  trueNegative: number;
  falseNegative: number;
}

/** Errors within one corpus group (e.g. `hard-ham-1`). */
export interface GroupErrors {
  total: number;
  errors: number;
  errorRate: number;
}

/** The result of {@link evaluate}. */
export interface Evaluation {
  total: number;
  accuracy: number;
  /** Spam precision: TP / (TP + FP); 0 when nothing was predicted spam. */
  precision: number;
  /** Spam recall: TP / (TP + FN); 0 when there is no spam. */
  recall: number;
  /** Harmonic mean of precision and recall; 0 when both are 0. */
  f1: number;
  confusion: ConfusionMatrix;
  /** Per-group error counts, keyed by group name (missing groups become `"unknown"`). */
  groups: Record<string, GroupErrors>;
}

/**
 * Scores predictions against the true labels: accuracy, spam precision/recall/F1, the
 * confusion matrix and per-group error rates. `predictions[i]` belongs to `examples[i]`.
 */
export function evaluate(
  examples: readonly { label: Label; group?: string }[],
  predictions: readonly (Label | { label: Label })[],
): Evaluation {
  if (examples.length !== predictions.length) {
    throw new Error(`got ${predictions.length} predictions for ${examples.length} examples`);
  }
  const confusion: ConfusionMatrix = {
    truePositive: 0,
    falsePositive: 0,
    trueNegative: 0,
    falseNegative: 0,
  };
  const groups: Record<string, GroupErrors> = {};
  examples.forEach((example, i) => {
    const prediction = predictions[i]!;
    const predicted = typeof prediction === "string" ? prediction : prediction.label;
    const correct = predicted === example.label;
    if (example.label === "spam") {
      if (correct) confusion.truePositive++;
      else confusion.falseNegative++;
    } else if (correct) confusion.trueNegative++;
    else confusion.falsePositive++;
    const group = example.group ?? "unknown";
    const stats = groups[group] ?? { total: 0, errors: 0, errorRate: 0 };
    stats.total++;
    if (!correct) stats.errors++;
    groups[group] = stats;
  });
  for (const stats of Object.values(groups)) stats.errorRate = stats.errors / stats.total;
  const { truePositive: tp, falsePositive: fp, trueNegative: tn, falseNegative: fn } = confusion;
  const total = examples.length;
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return {
    total,
    accuracy: total === 0 ? 0 : (tp + tn) / total,
    precision,
    recall,
    f1,
    confusion,
    groups,
  };
}
