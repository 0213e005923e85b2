// Imported first by the OpenAI SDK mode's page, before the SDK: the SDK validates events with zod, whose
// schemas compile themselves with `new Function` unless told not to, and zod decides whether it may the first
// time a schema is used, which already happens while the SDK's modules load. The page's policy forbids eval,
// so that attempt would be a policy violation on every page load (caught by zod, but reported).
import { z } from 'zod';

z.config({ jitless: true });
