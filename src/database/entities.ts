import { RefreshTokenEntity } from '../modules/auth/entities/refresh-token.entity.js';
import { UserEntity } from '../modules/auth/entities/user.entity.js';
import { FileEntity } from '../modules/documents/entities/file.entity.js';
import { FamilyEntity } from '../modules/families/entities/family.entity.js';

export const ENTITIES = [FamilyEntity, UserEntity, RefreshTokenEntity, FileEntity];
