export { KeywordList, KeywordTaggerConfig, KeywordTrainingInput } from "./config.js";
export { type FindKeywordsOptions, findKeywords, type KeywordMatch } from "./find-keywords.js";
export { KEYWORDS_FILE, KeywordModel } from "./keyword-model.js";
export { KeywordTagger } from "./keyword-tagger.js";
