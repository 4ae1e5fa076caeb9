/** The two classes the classifier distinguishes. */
export type Label = "ham" | "spam";

/** The SpamAssassin corpus groups; user-provided JSONL data uses `"custom"` unless it names one. */
export type CorpusGroup = "easy-ham-1" | "easy-ham-2" | "hard-ham-1" | "spam-1" | "spam-2";

/** One labelled email: raw RFC 822 text (headers and body) or plain text. */
export interface LabeledEmail {
  /** Unique within a corpus: `"<group>/<number>"` for SpamAssassin, `"line-<n>"` for JSONL. */
  id: string;
  /** Where the example came from; used for per-group error rates. */
  group: string;
  text: string;
  label: Label;
}
