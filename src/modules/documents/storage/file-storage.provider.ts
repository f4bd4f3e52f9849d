import type { Provider } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { uploadConfig } from '../../../config/configuration.js';
import { FILE_STORAGE, type FileStorage } from './file-storage.js';
import { LocalFileStorage } from './local-file-storage.js';

/**
 * The FileStorage chosen by STORAGE_DRIVER (local disk by default). The S3 driver is imported only
 * when chosen: loading the AWS SDK costs every start of the app and of each CLI command ~0.1 s of CPU.
 */
export const fileStorageProvider: Provider = {
  provide: FILE_STORAGE,
  inject: [uploadConfig.KEY],
  useFactory: async (upload: ConfigType<typeof uploadConfig>): Promise<FileStorage> => {
    if (upload.storage.driver !== 's3') return new LocalFileStorage(upload.dir, upload.minFreeBytes);
    const { S3FileStorage } = await import('./s3-file-storage.js');
    return new S3FileStorage(upload.storage.s3);
  },
};
