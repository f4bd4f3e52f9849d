import { Module } from '@nestjs/common';
import type { ConfigType } from '@nestjs/config';
import { JwtModule } from '@nestjs/jwt';
import { PassportModule } from '@nestjs/passport';
import { TypeOrmModule } from '@nestjs/typeorm';
import { appConfig, authConfig } from '../../config/configuration.js';
import { FamiliesModule } from '../families/families.module.js';
import { AuthRateLimitGuard } from './rate-limit.guard.js';
import { JWT_SECRET } from './auth.constants.js';
import { AuthController } from './auth.controller.js';
import { AuthService } from './auth.service.js';
import { RefreshTokenEntity } from './entities/refresh-token.entity.js';
import { UserEntity } from './entities/user.entity.js';
import { resolveJwtSecret } from './jwt-secret.js';
import { JwtStrategy } from './jwt.strategy.js';
import { PasswordService } from './password.service.js';
import { TokenService } from './token.service.js';

const jwtSecretProvider = {
  provide: JWT_SECRET,
  inject: [authConfig.KEY, appConfig.KEY],
  useFactory: (auth: ConfigType<typeof authConfig>, app: ConfigType<typeof appConfig>) => resolveJwtSecret(auth.jwtSecret, app.dataDir),
};

@Module({
  imports: [
    TypeOrmModule.forFeature([UserEntity, RefreshTokenEntity]),
    PassportModule,
    FamiliesModule,
    JwtModule.registerAsync({
      inject: [JWT_SECRET],
      extraProviders: [jwtSecretProvider],
      useFactory: (secret: string) => ({ secret, signOptions: { algorithm: 'HS256' } }),
    }),
  ],
  controllers: [AuthController],
  providers: [
    AuthService,
    PasswordService,
    TokenService,
    JwtStrategy,
    AuthRateLimitGuard,
    jwtSecretProvider,
  ],
  exports: [TokenService, PasswordService, AuthService],
})
export class AuthModule {}
