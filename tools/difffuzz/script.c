typedef int ec_difffuzz_placeholder;
