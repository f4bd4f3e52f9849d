import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import { ApiHeader } from '@nestjs/swagger';
import type { Request } from 'express';
import { SyncErrors } from './sync.errors.js';

const DEVICE_ID_HEADER = 'x-device-id';
/** The device columns (created_by_device, sync_cursors.device_id, …) are varchar(200). */
const DEVICE_ID_MAX_LENGTH = 200;
/** Printable ASCII without spaces. */
const DEVICE_ID_PATTERN = new RegExp(`^[\\x21-\\x7e]{1,${DEVICE_ID_MAX_LENGTH}}$`);

/**
 * The `X-Device-Id` header: a stable id of the app installation, or null when
 * absent. Lets a pull return a device's own new records as `updated`.
 */
export const DeviceId = createParamDecorator((_: unknown, ctx: ExecutionContext): string | null => {
  const value = ctx.switchToHttp().getRequest<Request>().headers[DEVICE_ID_HEADER];
  if (value === undefined || value === '') return null;
  if (typeof value !== 'string' || !DEVICE_ID_PATTERN.test(value)) {
    throw SyncErrors.invalidParameter('X-Device-Id', `must be 1-${DEVICE_ID_MAX_LENGTH} printable ASCII characters`);
  }
  return value;
});

/** The header as OpenAPI documents it, from the same pattern the decorator checks (a value it refuses is a 422). */
export function ApiDeviceIdHeader(): MethodDecorator & ClassDecorator {
  return ApiHeader({
    name: 'X-Device-Id',
    required: false,
    description:
      `Stable id of the app installation (the same on pull and push): 1 to ${DEVICE_ID_MAX_LENGTH} printable ASCII characters, no spaces. ` +
      'Absent or empty: no device. Anything else is refused 422 VALIDATION_FAILED (details.field X-Device-Id)',
    schema: { type: 'string', maxLength: DEVICE_ID_MAX_LENGTH, pattern: DEVICE_ID_PATTERN.source },
  });
}
