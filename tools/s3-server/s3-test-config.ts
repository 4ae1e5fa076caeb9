/** How tests reach the S3 server of a run (provided by `global-setup.ts`, read with `getS3TestConfig()`). */
export interface S3TestConfig {
  /** e.g. `http://127.0.0.1:7480`. */
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
  /** A bucket that exists, shared by the runs of one package. */
  bucket: string;
  /** A key prefix unique to this run, ending in `/`; everything under it is deleted at teardown. */
  prefix: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    s3: S3TestConfig;
  }
}
