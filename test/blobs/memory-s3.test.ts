import {memoryCase} from './memory.js'
import {s3Subject} from './stores.js'

// The S3 store holds at most 64 MiB of part buffers (48 MiB with the defaults); the rest is slack.
memoryCase('S3BlobStore on Ceph RGW', s3Subject, 128)
