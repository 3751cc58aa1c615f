#ifndef AS_TAIL_H
#define AS_TAIL_H
#endif
