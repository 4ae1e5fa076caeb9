import { describeCacheSuite } from "./suites/cache-suite.js";

describeCacheSuite("file");
