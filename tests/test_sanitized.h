/* Accuracy runs (long fits and evolves whose figures the normal build checks) skip themselves, visibly, in the
 * AddressSanitizer + UBSan build, where they take ten times as long and add no memory check that the shorter
 * runs of the same code paths do not. */
#ifndef NPDE_TEST_SANITIZED_H
#define NPDE_TEST_SANITIZED_H

#ifdef NPDE_TEST_SANITIZED
#define NPDE_SKIP_UNDER_SANITIZERS()                                                                             \
  cr_skip_test("an accuracy run: checked in the normal build; under ASan+UBSan the same code runs in the shorter " \
               "tests")
#else
#define NPDE_SKIP_UNDER_SANITIZERS() ((void)0)
#endif

#endif
