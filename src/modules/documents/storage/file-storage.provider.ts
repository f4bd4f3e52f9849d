import type { Provider } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { uploadConfig } from '../../../config/configuration.js';
import { FILE_STORAGE, type FileStorage } from './file-storage.js';
import { LocalFileStorage } from './local-file-storage.js';
import { S3FileStorage } from './s3-file-storage.js';

/** The FileStorage chosen by STORAGE_DRIVER (local disk by default). */
export const fileStorageProvider: Provider = {
  provide: FILE_STORAGE,
  inject: [uploadConfig.KEY],
  useFactory: (upload: ConfigType<typeof uploadConfig>): FileStorage =>
    upload.storage.driver === 's3' ? new S3FileStorage(upload.storage.s3) : new LocalFileStorage(upload.dir),
};
