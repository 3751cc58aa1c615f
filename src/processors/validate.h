#ifndef AS_VALIDATE_H
#define AS_VALIDATE_H
#endif
