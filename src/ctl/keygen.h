#ifndef AS_KEYGEN_H
#define AS_KEYGEN_H
#endif
