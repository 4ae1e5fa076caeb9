import { describeMultiProcessSuite } from "./suites/multi-process-suite.js";

describeMultiProcessSuite("s3");
