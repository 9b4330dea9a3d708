// Included after <immintrin.h> by the files with AVX-512 code: gcc 12 warns
// of the undefined upper halves its own AVX-512 headers leave on purpose
// (_mm512_cast*, the reductions): gcc bug 105593, gone in gcc 13. The
// warnings stay off for the rest of the including file.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
