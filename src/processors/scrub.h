#ifndef AS_SCRUB_H
#define AS_SCRUB_H
#endif
