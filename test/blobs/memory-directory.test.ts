import {memoryCase} from './memory.js'
import {directorySubject} from './stores.js'

memoryCase('directory BlobStore', directorySubject, 64)
