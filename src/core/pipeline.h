#ifndef AS_PIPELINE_H
#define AS_PIPELINE_H
#endif
