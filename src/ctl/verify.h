#ifndef AS_VERIFY_H
#define AS_VERIFY_H
#endif
