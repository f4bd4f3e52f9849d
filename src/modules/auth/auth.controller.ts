import { Body, Controller, Delete, Get, HttpCode, Post } from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
  ApiUnauthorizedResponse,
  ApiUnprocessableEntityResponse,
} from '@nestjs/swagger';
import { ApiJsonBodyErrors, ApiMembershipChangedError, ApiServiceUnavailableError } from '../../common/errors/api-error-responses.js';
import { ErrorResponse } from '../../common/errors/error-response.js';
import { Authenticated, CurrentUser } from '../../common/family-scope/decorators.js';
import type { AuthenticatedUser } from '../../common/family-scope/family-scope.request.js';
import { AuthRateLimited } from './rate-limit.guard.js';
import { AuthService } from './auth.service.js';
import {
  ChangePasswordDto,
  DeleteAccountDto,
  ForgotPasswordDto,
  JoinFamilyDto,
  LoginDto,
  RefreshDto,
  RegisterDto,
  ResetPasswordDto,
} from './dto/auth.dto.js';
import { AuthResponse, ForgotPasswordResponse, MeResponse, TokenResponse } from './dto/auth.response.js';
import { PasswordResetService } from './password-reset.service.js';

@ApiTags('auth')
@Controller('api/v1/auth')
export class AuthController {
  constructor(
    private readonly auth: AuthService,
    private readonly resets: PasswordResetService,
  ) {}

  /**
   * Creates an account and a new family (as owner), or joins the family of `invite_code`.
   * Rate limited per network and per email: with an invite code it is the same guess as join-family.
   */
  @Post('register')
  @AuthRateLimited()
  @ApiCreatedResponse({ type: AuthResponse })
  @ApiJsonBodyErrors()
  @ApiConflictResponse({ type: ErrorResponse, description: 'Email already registered (EMAIL_TAKEN)' })
  @ApiNotFoundResponse({ type: ErrorResponse, description: 'Invite code not found (INVITE_CODE_INVALID)' })
  register(@Body() dto: RegisterDto): Promise<AuthResponse> {
    return this.auth.register(dto);
  }

  /** Rate limited per network and per account (failed attempts). */
  @Post('login')
  @HttpCode(200)
  @AuthRateLimited({ passwordCheck: true })
  @ApiOkResponse({ type: AuthResponse })
  @ApiJsonBodyErrors()
  @ApiUnauthorizedResponse({ type: ErrorResponse, description: 'Wrong email or password (INVALID_CREDENTIALS), the same answer for both' })
  login(@Body() dto: LoginDto): Promise<AuthResponse> {
    return this.auth.login(dto);
  }

  /** Joins the family of an invite code (leaving the current one). Rate limited per network and per account. */
  @Post('join-family')
  @HttpCode(200)
  // Decorators apply bottom-up: the JWT guard (from @Authenticated) runs first, so the limit is per user.
  @AuthRateLimited()
  @Authenticated()
  @ApiOkResponse({ type: MeResponse })
  @ApiJsonBodyErrors()
  @ApiNotFoundResponse({ type: ErrorResponse, description: 'Invite code not found (INVITE_CODE_INVALID)' })
  @ApiConflictResponse({
    type: ErrorResponse,
    description: 'Already a member of that family (ALREADY_IN_FAMILY), or the owner of a family with other members (OWNER_HAS_MEMBERS)',
  })
  @ApiMembershipChangedError()
  joinFamily(@CurrentUser() user: AuthenticatedUser, @Body() dto: JoinFamilyDto): Promise<MeResponse> {
    return this.auth.joinFamily(user.userId, dto.invite_code, user.signInId);
  }

  /**
   * Changes the caller's password and signs them out everywhere else at once (every other sign-in,
   * access and refresh tokens, "sync now" streams); answers a new sign-in for this device, whose
   * old tokens are refused from now on too. Rate limited per network and per account (failed attempts).
   */
  @Post('change-password')
  @HttpCode(200)
  // Decorators apply bottom-up: the JWT guard (from @Authenticated) runs first, so the limit is per user.
  @AuthRateLimited({ passwordCheck: true })
  @Authenticated()
  @ApiOkResponse({ type: AuthResponse })
  @ApiJsonBodyErrors()
  // Merged with @Authenticated's 401 (UNAUTHENTICATED) in the document.
  @ApiUnauthorizedResponse({ type: ErrorResponse, description: 'Wrong current_password (INVALID_CREDENTIALS): nothing changed, still signed in' })
  @ApiUnprocessableEntityResponse({ type: ErrorResponse, description: 'new_password equals current_password (VALIDATION_FAILED, details.fields names new_password)' })
  changePassword(@CurrentUser() user: AuthenticatedUser, @Body() dto: ChangePasswordDto): Promise<AuthResponse> {
    return this.auth.changePassword(user.userId, dto);
  }

  /**
   * Emails a single-use link to reset the password of the account of `email`, if there is one. The
   * answer is the same either way, and is sent before the account is looked up. A newer request
   * replaces the link of an earlier one. Rate limited per network and per email (every request counts).
   */
  @Post('forgot-password')
  @HttpCode(202)
  @AuthRateLimited({ everyAttempt: true })
  @ApiAcceptedResponse({ type: ForgotPasswordResponse, description: 'The same answer whether or not an account has this email' })
  @ApiJsonBodyErrors()
  @ApiServiceUnavailableError('Password reset by email is off on this server: it has no mail server (PASSWORD_RESET_UNAVAILABLE); the user asks support')
  forgotPassword(@Body() dto: ForgotPasswordDto): ForgotPasswordResponse {
    return this.resets.requestReset(dto.email);
  }

  /**
   * Sets a new password with the token of an emailed link, and signs the user out everywhere at once
   * (as a password change does); answers a new sign-in for this device. The token works once.
   * Rate limited per network.
   */
  @Post('reset-password')
  @HttpCode(200)
  @AuthRateLimited()
  @ApiOkResponse({ type: AuthResponse })
  @ApiJsonBodyErrors()
  @ApiUnauthorizedResponse({
    type: ErrorResponse,
    description: 'The token is unknown, expired, already used or replaced by a newer link (INVALID_RESET_TOKEN): nothing changed; ask for a new link',
  })
  resetPassword(@Body() dto: ResetPasswordDto): Promise<AuthResponse> {
    return this.resets.reset(dto);
  }

  /**
   * Deletes the caller's account, confirmed by their password: every sign-in ends at once, the email
   * can be registered again. The family keeps the records and files the user entered (its other
   * members rely on them) and gets a new invite code, as when a member leaves; the owner of a family
   * with other members hands it on first. Rate limited per network and per account (failed attempts).
   */
  @Delete('me')
  @HttpCode(204)
  @AuthRateLimited({ passwordCheck: true })
  @Authenticated()
  @ApiNoContentResponse({ description: 'Deleted: every sign-in of the account has ended' })
  @ApiJsonBodyErrors()
  @ApiUnauthorizedResponse({ type: ErrorResponse, description: 'Wrong password (INVALID_CREDENTIALS): nothing deleted, still signed in' })
  @ApiConflictResponse({
    type: ErrorResponse,
    description:
      'The owner of a family with other members (OWNER_HAS_MEMBERS: POST /families/me/owner first), ' +
      'or the membership changed while the request was in flight (MEMBERSHIP_CHANGED); nothing deleted',
  })
  deleteAccount(@CurrentUser() user: AuthenticatedUser, @Body() dto: DeleteAccountDto): Promise<void> {
    return this.auth.deleteAccount(user.userId, dto.password);
  }

  /** The caller and a summary of their family. */
  @Get('me')
  @Authenticated()
  @ApiOkResponse({ type: MeResponse })
  @ApiMembershipChangedError()
  me(@CurrentUser() user: AuthenticatedUser): Promise<MeResponse> {
    return this.auth.me(user.userId);
  }

  /**
   * Exchanges a refresh token for a new pair. Each refresh token works once; presenting a used one
   * again signs that device out — except a retry within 30 s while the pair it was sent is unused
   * (the response was lost), which gets a new pair.
   */
  @Post('refresh')
  @HttpCode(200)
  @ApiOkResponse({ type: TokenResponse })
  @ApiJsonBodyErrors()
  @ApiUnauthorizedResponse({ type: ErrorResponse, description: 'Invalid, expired, revoked or reused refresh token (INVALID_REFRESH_TOKEN)' })
  refresh(@Body() dto: RefreshDto): Promise<TokenResponse> {
    return this.auth.refresh(dto.refresh_token);
  }

  /** Revokes the refresh token's sign-in (this device). An unknown token is ignored. */
  @Post('logout')
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'Signed out (or the token was unknown)' })
  @ApiJsonBodyErrors()
  logout(@Body() dto: RefreshDto): Promise<void> {
    return this.auth.logout(dto.refresh_token);
  }
}
