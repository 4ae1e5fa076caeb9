/** Size of every file read and of the chunks the archive streams carry: 1 MiB. */
export const CHUNK_SIZE = 1024 * 1024;
