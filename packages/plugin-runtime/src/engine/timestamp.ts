import { z } from "zod";

/** An ISO 8601 date-time with an offset, as the engines' records hold their times. */
export const Timestamp = z.iso.datetime({ offset: true });
