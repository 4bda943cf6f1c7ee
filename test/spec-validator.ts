// The official vSphere OpenAPI subsets (../shared/vsphere-api/openapi/) as validators for
// simulator responses: the simulator's own SpecValidator (src/simulator/spec-schemas.ts: ajv
// against the schema, plus a walk that refuses undeclared fields), with the contract tests'
// one patch to the published schemas.
import { REST_SPEC_FILE, SpecValidator, VIM_SPEC_FILE, specDir, specsPresent as specFilesPresent } from '../src/simulator/spec-schemas.ts';

export { SpecValidator };
export const SPEC_DIR = specDir();
export const specsPresent = specFilesPresent(SPEC_DIR);

/** The VI/JSON validator as the contract tests use it. */
export function viJsonValidator(): SpecValidator {
  return new SpecValidator(VIM_SPEC_FILE, 'vi-json', (schemas) => {
    // vCenter sends `faultstring` on every fault (see REFERENCE.md), though
    // the published MethodFault schema does not declare it.
    schemas.MethodFault = { ...schemas.MethodFault, properties: { ...schemas.MethodFault?.properties, faultstring: { type: 'string' } } };
  });
}

export function restValidator(): SpecValidator {
  return new SpecValidator(REST_SPEC_FILE, 'vcenter');
}
