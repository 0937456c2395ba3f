import { adapterConformance } from '@hotmcp/core/testing';
import { z } from 'zod';
import { connectV2 } from './test-session.js';

adapterConformance('@hotmcp/adapter-sdk-v2', {
  connect: () => connectV2(),
  stringSchema: (fields) => z.object(Object.fromEntries(fields.map((field) => [field, z.string()]))),
});
