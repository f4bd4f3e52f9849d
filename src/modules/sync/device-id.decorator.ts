import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import { SyncErrors } from './sync.errors.js';

export const DEVICE_ID_HEADER = 'x-device-id';
const DEVICE_ID_PATTERN = /^[\x21-\x7e]{1,200}$/;

/**
 * The `X-Device-Id` header: a stable id of the app installation, or null when
 * absent. Lets a pull return a device's own new records as `updated`.
 */
export const DeviceId = createParamDecorator((_: unknown, ctx: ExecutionContext): string | null => {
  const value = ctx.switchToHttp().getRequest<Request>().headers[DEVICE_ID_HEADER];
  if (value === undefined || value === '') return null;
  if (typeof value !== 'string' || !DEVICE_ID_PATTERN.test(value)) {
    throw SyncErrors.invalidParameter('X-Device-Id', 'must be 1-200 printable ASCII characters');
  }
  return value;
});
