import { describeCacheSuite } from "./suites/cache-suite.js";

describeCacheSuite("s3");
