// VI/JSON faults. A real vCenter answers HTTP 500 with the fault object as
// the body: `_typeName` names the fault, `faultstring` carries the message,
// then the fault's own fields (schemas MethodFault and subtypes).

import type { MoRef } from './inventory.ts';
import { morefJson } from './vim-values.ts';

export type FaultBody = { _typeName: string; faultstring: string } & Record<string, unknown>;

/** Thrown inside VI/JSON handlers; the server turns it into a 500 response. */
export class VimFault extends Error {
  constructor(readonly body: FaultBody) {
    super(`${body._typeName}: ${body.faultstring}`);
  }
}

export const fault = {
  notAuthenticated: (obj: MoRef): VimFault =>
    new VimFault({ _typeName: 'NotAuthenticated', faultstring: 'The session is not authenticated.', object: morefJson(obj), privilegeId: 'System.View' }),
  /**
   * The user lacks `privilege` on `entity`. vCenter fills the deprecated object/privilegeId
   * and, since 7.0.3.2, missingPrivileges (NoPermissionEntityPrivileges).
   */
  noPermission: (entity: MoRef, privilege: string): VimFault =>
    new VimFault({
      _typeName: 'NoPermission',
      faultstring: `Permission to perform this operation was denied. Required privilege '${privilege}' on managed object with id '${entity.value}'.`,
      object: morefJson(entity),
      privilegeId: privilege,
      missingPrivileges: [{ _typeName: 'NoPermissionEntityPrivileges', entity: morefJson(entity), privilegeIds: [privilege] }],
    }),
  invalidLogin: (): VimFault =>
    new VimFault({ _typeName: 'InvalidLogin', faultstring: 'Cannot complete login due to an incorrect user name or password.' }),
  managedObjectNotFound: (obj: MoRef): VimFault =>
    new VimFault({
      _typeName: 'ManagedObjectNotFound',
      faultstring: `The object 'vim.${obj.type}:${obj.value}' has already been deleted or has not been completely created`,
      obj: morefJson(obj),
    }),
  invalidProperty: (name: string): VimFault => new VimFault({ _typeName: 'InvalidProperty', faultstring: '', name }),
  invalidArgument: (invalidProperty: string): VimFault =>
    new VimFault({ _typeName: 'InvalidArgument', faultstring: `A specified parameter was not correct: ${invalidProperty}`, invalidProperty }),
  invalidType: (argument: string): VimFault => new VimFault({ _typeName: 'InvalidType', faultstring: '', argument }),
  invalidRequest: (message: string): VimFault => new VimFault({ _typeName: 'InvalidRequest', faultstring: message }),
  invalidState: (message: string): VimFault => new VimFault({ _typeName: 'InvalidState', faultstring: message }),
  notSupported: (message = 'The operation is not supported on the object.'): VimFault => new VimFault({ _typeName: 'NotSupported', faultstring: message }),
  requestCanceled: (): VimFault => new VimFault({ _typeName: 'RequestCanceled', faultstring: 'The task was canceled by a user.' }),
  /** SystemError.reason is required by the schema. */
  systemError: (reason: string): VimFault => new VimFault({ _typeName: 'SystemError', faultstring: `A general system error occurred: ${reason}`, reason }),
  taskInProgress: (task: MoRef): VimFault =>
    new VimFault({ _typeName: 'TaskInProgress', faultstring: 'Another task is already in progress.', task: morefJson(task) }),
  /** PlatformConfigFault.text carries hostd's own (already localized) message. */
  platformConfigFault: (text: string): VimFault =>
    new VimFault({ _typeName: 'PlatformConfigFault', faultstring: `An error occurred during host configuration: ${text}`, text }),
};
