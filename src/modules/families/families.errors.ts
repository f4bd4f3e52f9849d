import { DomainError, ErrorCode } from '../../common/errors/domain-error.js';

/** The families module's expected failures, one place for their codes and wording (mapped to HTTP by the global filter). */
export const FamiliesErrors = {
  familyNotFound: () => new DomainError(ErrorCode.NOT_FOUND, 'Family not found'),
  /** Not a member of the caller's family: the same answer whether the user exists elsewhere or not at all. */
  memberNotFound: () => new DomainError(ErrorCode.NOT_FOUND, 'Member not found'),
  ownerOnly: () => new DomainError(ErrorCode.OWNER_ONLY, 'Only the family owner can do this'),
  ownerCannotRemoveSelf: () => {
    const message = 'The owner cannot remove themselves from the family';
    return new DomainError(ErrorCode.VALIDATION_FAILED, message, { fields: [{ field: 'userId', errors: [message] }] });
  },
  /** Leaving (POST /families/me/leave, or a join of another family) as the owner of a family with other members. */
  ownerHasMembers: () =>
    new DomainError(
      ErrorCode.OWNER_HAS_MEMBERS,
      'The owner of a family with other members cannot leave it; make another member the owner first (POST /api/v1/families/me/owner)',
    ),
  ownerAlready: () => {
    const message = 'You are the owner already; name another member';
    return new DomainError(ErrorCode.VALIDATION_FAILED, message, { fields: [{ field: 'user_id', errors: [message] }] });
  },
  /** POST /families by a caller who is in a family already (the code a join of one's own family answers). */
  alreadyInAFamily: () => new DomainError(ErrorCode.ALREADY_IN_FAMILY, 'You are already a member of a family'),
  inviteCodeNotFound: () => new DomainError(ErrorCode.INVITE_CODE_INVALID, 'Invite code not found'),
};
